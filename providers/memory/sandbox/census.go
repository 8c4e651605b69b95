package sandbox

import (
	"bufio"
	"bytes"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Background jobs, subshells and pipeline stages of a container's shell
// are goroutines the interpreter starts itself, with no hook where they
// start or end, so the process table cannot count them. Goroutines
// inherit their creator's profiler labels, though: every process of a
// container runs on a goroutine labelled with the container
// (labelContainer), and so does every goroutine its interpreter starts.
// The runtime's goroutine profile, grouped by labels, counts them.

// labelContainer is the profiler label naming the container a goroutine
// works for.
const labelContainer = "sockerless.container"

// goroutinesPerPID is how many goroutines one process of the PIDs limit
// may take: a background job or subshell is one, a pipeline stage one
// more for its pipe, and a running applet a few of wazero's.
const goroutinesPerPID = 4

// censusFloor is the number of goroutines in the daemon below which no
// census is taken: an idle daemon and ordinary containers stay far below
// it, so a census (which stops the world to walk every stack) costs only
// while some container piles up goroutines.
const censusFloor = 1000

// censusEvery bounds how often a census is taken while the daemon's
// goroutines stay within a quarter more than at the last one; between two,
// the last counts are used. A census of a few thousand goroutines takes
// 0.2-0.5 s on a loaded 2-core machine, and every shell command waits for
// it; a bomb doubles faster than any period, so growth past that quarter
// takes a new census at once.
const censusEvery = time.Second

// goroutineCensus counts goroutines by container label.
type goroutineCensus struct {
	mu     sync.Mutex
	at     time.Time
	cond   *sync.Cond // signalled when a census ends
	busy   bool
	total  int // the daemon's goroutines at the last census
	counts map[string]int
}

// count returns the goroutines labelled with label, from a census at most
// censusEvery old. One census is taken at a time, and the commands that
// ask meanwhile wait for it: a bomb's goroutines, each waiting here to
// start its next command, then leave the CPU to the census instead of
// outgrowing it.
func (g *goroutineCensus) count(label string, total int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	for g.busy {
		g.cond.Wait()
	}
	if time.Since(g.at) < censusEvery && total <= g.total+g.total/4 {
		return g.counts[label]
	}
	g.busy = true
	g.mu.Unlock()
	counts := takeCensus()
	g.mu.Lock()
	g.counts, g.at, g.busy, g.total = counts, time.Now(), false, total
	g.cond.Broadcast()
	return counts[label]
}

// takeCensus reads the goroutine profile (debug=1 groups goroutines by
// stack and labels: "N @ pcs" then "# labels: {...}").
func takeCensus() map[string]int {
	var buf bytes.Buffer
	counts := map[string]int{}
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return counts
	}
	return parseCensus(&buf)
}

// parseCensus sums the goroutine counts of a debug=1 goroutine profile by
// the value of labelContainer.
func parseCensus(r *bytes.Buffer) map[string]int {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	key := strconv.Quote(labelContainer) + ":"
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if num, rest, ok := strings.Cut(line, " @ "); ok && rest != "" {
			n, _ = strconv.Atoi(num)
			continue
		}
		if !strings.HasPrefix(line, "# labels: ") || n == 0 {
			continue
		}
		_, v, ok := strings.Cut(line, key)
		if !ok {
			continue
		}
		if val, err := strconv.QuotedPrefix(v); err == nil {
			if s, err := strconv.Unquote(val); err == nil {
				counts[s] += n
			}
		}
		n = 0
	}
	return counts
}

// tooManyGoroutines reports whether the container's goroutines are past
// what its PIDs limit allows (goroutinesPerPID each); without a PIDs
// limit, or while the daemon has few goroutines, it is false.
func (c *Container) tooManyGoroutines() bool {
	limit, total := c.limits.PIDs, runtime.NumGoroutine()
	if limit <= 0 || total < censusFloor {
		return false
	}
	return c.sb.census.count(c.label, total) > limit*goroutinesPerPID
}
