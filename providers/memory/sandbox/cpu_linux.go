package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// cpuRoot is the cgroup v1 "cpu" hierarchy's mount point. A v1 cpu
// cgroup may hold single threads of a process (its tasks file takes
// thread ids), which is what lets one process, the daemon, run each
// container's code on threads throttled to that container's --cpus.
const cpuRoot = "/sys/fs/cgroup/cpu"

// cpuPeriod is the CFS period of every container's group, in µs
// (Docker's default --cpu-period).
const cpuPeriod = 100000

// init keeps the main goroutine on the process's main thread for good,
// so no container's goroutine ever runs there (Go's documented idiom:
// LockOSThread in an init function). A goroutine that ends locked to a
// thread ends the thread, except the main thread, which Go cannot end
// and parks for good instead: one that joined a container's group there
// would leave the main thread in that group forever, counted in
// maxThreads and GOMAXPROCS, and the group impossible to remove.
func init() {
	runtime.LockOSThread()
}

// cpuGroups is the daemon's parent cpu cgroup, with one child group per
// container that has a CPU limit. Nil when the host has no writable v1
// cpu hierarchy (cgroup v2, a read-only /sys/fs/cgroup, not root): the
// limit is then not applied and create says so.
type cpuGroups struct {
	dir string // <cpuRoot>/<daemon's own group>/sockerless-<pid>-<random>
	// home is the tasks file of the daemon's own group, where a thread
	// goes back when its goroutine leaves a container's group.
	home string

	// done is closed by close (once): releases in progress stop looking.
	done      chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	// threads counts threads joined to any container's group and not
	// yet seen ended (see join); past maxThreads a join first looks for
	// ended ones, then refuses.
	threads    int
	maxThreads int
}

// maxCPUThreads bounds the threads locked to containers' cpu groups at
// once: each is an OS thread for as long as the goroutine that joined
// lives, and Go ends the whole process past 10,000 threads.
const maxCPUThreads = 4096

// openCPUGroups makes the daemon's parent group under its own cpu
// cgroup, after removing the groups of daemons that are gone. It returns
// nil where CPU limits cannot be applied.
func openCPUGroups() *cpuGroups {
	own, ok := ownCPUCgroup()
	if !ok {
		return nil
	}
	base := filepath.Join(cpuRoot, own)
	if unix.Access(filepath.Join(base, "tasks"), unix.W_OK) != nil {
		return nil
	}
	removeStaleGroups(base)
	// One parent per sandbox (a process may hold several), named for
	// the process so that the next daemon can tell whether it is gone.
	dir := filepath.Join(base, "sockerless-"+strconv.Itoa(os.Getpid())+"-"+rand.Text()[:8])
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "cpu.cfs_quota_us")); err != nil {
		_ = unix.Rmdir(dir)
		return nil // no CFS bandwidth control in this kernel
	}
	return &cpuGroups{dir: dir, home: filepath.Join(base, "tasks"), maxThreads: maxCPUThreads, done: make(chan struct{})}
}

// ownCPUCgroup is the daemon's path in the v1 cpu hierarchy, from
// /proc/self/cgroup ("N:cpu,cpuacct:/path").
func ownCPUCgroup() (string, bool) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			if c == "cpu" {
				return f[2], true
			}
		}
	}
	return "", false
}

// removeStaleGroups removes the parent groups of daemons that ended
// without Close (their threads are gone with them, so the groups are
// empty and can be removed).
func removeStaleGroups(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "sockerless-")
		pid, _, _ := strings.Cut(rest, "-")
		if !ok || !e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(pid); err != nil || n == os.Getpid() || unix.Kill(n, 0) == nil {
			continue
		}
		removeGroupTree(filepath.Join(base, e.Name()))
	}
}

// removeGroupTree removes a parent group and its containers' groups
// (cgroup directories are removed with rmdir; their files go with them).
func removeGroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			_ = unix.Rmdir(filepath.Join(dir, e.Name()))
		}
	}
	_ = unix.Rmdir(dir)
}

// close removes the parent group; threads still in a container's group
// (a goroutine that has not ended yet) keep that group and the parent,
// which the next daemon removes as stale.
func (g *cpuGroups) close() {
	if g != nil {
		g.closeOnce.Do(func() { close(g.done) })
		removeGroupTree(g.dir)
	}
}

// cpuGroup is one container's cgroup.
type cpuGroup struct {
	g    *cpuGroups
	name string
	// nanoCPUs is the limit asked for and quota the CFS quota it makes,
	// in µs per cpuPeriod.
	nanoCPUs, quota int64

	mu     sync.Mutex
	made   bool
	joined map[int]struct{} // thread ids locked to goroutines of this container and moved in
	// pruneAt is the size of joined at which ended threads are next
	// looked for.
	pruneAt int
	// releasing is set while a release is looking for ended threads.
	releasing bool
}

// newGroup returns the group of container label limited to nanoCPUs
// (billionths of a CPU); the cgroup itself is made at the first join.
func (g *cpuGroups) newGroup(label string, nanoCPUs int64) *cpuGroup {
	quota := nanoCPUs * cpuPeriod / 1e9
	if quota < 1000 {
		quota = 1000 // the kernel's minimum quota: 1 ms
	}
	return &cpuGroup{g: g, name: "c" + label, nanoCPUs: nanoCPUs, quota: quota, joined: map[int]struct{}{}}
}

func (cg *cpuGroup) dir() string { return filepath.Join(cg.g.dir, cg.name) }

// join moves the calling goroutine's thread into the group, locking the
// goroutine to it for the rest of its life: a goroutine that ends locked
// ends its thread, so nothing else ever runs on a throttled thread, and
// Go never clones a locked thread to make new ones. A thread already in
// the group is left as it is (a thread in the group is locked to the
// goroutine that joined, so finding the caller on one means it is that
// goroutine).
func (cg *cpuGroup) join() error {
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		// Only if the program unlocked its main goroutine (see init):
		// the main thread is never moved, so this goroutine's code runs
		// without the limit rather than leave the main thread behind.
		return nil
	}
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if _, ok := cg.joined[tid]; ok {
		return nil
	}
	if len(cg.joined) >= cg.pruneAt {
		cg.forgetEnded()
		cg.pruneAt = 2*len(cg.joined) + 64
	}
	if !cg.g.take() {
		cg.forgetEnded()
		if !cg.g.take() {
			return errNoPIDs
		}
	}
	if !cg.made {
		if err := os.Mkdir(cg.dir(), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			cg.g.give(1)
			return fmt.Errorf("cpu cgroup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cg.dir(), "cpu.cfs_period_us"), []byte(strconv.Itoa(cpuPeriod)), 0); err != nil {
			cg.g.give(1)
			return fmt.Errorf("cpu cgroup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cg.dir(), "cpu.cfs_quota_us"), []byte(strconv.FormatInt(cg.quota, 10)), 0); err != nil {
			cg.g.give(1)
			return fmt.Errorf("cpu cgroup: %w", err)
		}
		cg.made = true
	}
	runtime.LockOSThread()
	tid = unix.Gettid()
	if err := os.WriteFile(filepath.Join(cg.dir(), "tasks"), []byte(strconv.Itoa(tid)), 0); err != nil {
		runtime.UnlockOSThread()
		cg.g.give(1)
		return fmt.Errorf("cpu cgroup: %w", err)
	}
	cg.joined[tid] = struct{}{}
	return nil
}

// leave moves the calling goroutine's thread, which join locked and
// moved into the group, back to the daemon's own group and unlocks it,
// so the thread serves other goroutines again.
func (cg *cpuGroup) leave() {
	tid := unix.Gettid()
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if _, ok := cg.joined[tid]; !ok {
		return
	}
	if os.WriteFile(cg.g.home, []byte(strconv.Itoa(tid)), 0) != nil {
		return // stays locked: the thread ends with the goroutine
	}
	delete(cg.joined, tid)
	cg.g.give(1)
	runtime.UnlockOSThread()
}

// release removes the group once no thread is left in it (every
// goroutine that joined has ended: a killed shell's pipeline stages and
// background jobs end shortly after it, a throttled one only when its
// container's quota lets it run); it is made again at the next join.
// Until then one goroutine per group looks again with a growing pause,
// giving back the count of each thread it finds ended, so a slow thread
// never keeps its P or its share of maxThreads once it is gone. It stops
// only when the group is gone or the sandbox closes: a release asked for
// while one runs is that one's to finish.
func (cg *cpuGroup) release() {
	if cg.tryRelease() {
		return
	}
	cg.mu.Lock()
	if cg.releasing {
		cg.mu.Unlock()
		return
	}
	cg.releasing = true
	cg.mu.Unlock()
	go func() {
		defer func() {
			cg.mu.Lock()
			cg.releasing = false
			cg.mu.Unlock()
		}()
		pause := 20 * time.Millisecond
		for {
			select {
			case <-cg.g.done:
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Second)
			cg.mu.Lock()
			cg.forgetEnded()
			cg.mu.Unlock()
			if cg.tryRelease() {
				return
			}
		}
	}()
}

// tryRelease removes the group if it is empty, reporting whether it is
// gone.
func (cg *cpuGroup) tryRelease() bool {
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if !cg.made {
		return true
	}
	if err := unix.Rmdir(cg.dir()); err != nil {
		return false // threads still inside: their goroutines have not ended yet
	}
	cg.made = false
	cg.g.give(len(cg.joined))
	clear(cg.joined)
	return true
}

// stat is the group's cpu.stat (nr_periods, nr_throttled,
// throttled_time), nil before the group is made.
func (cg *cpuGroup) stat() map[string]int64 {
	data, err := os.ReadFile(filepath.Join(cg.dir(), "cpu.stat"))
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// take counts one more joined thread, unless maxThreads are.
func (g *cpuGroups) take() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.threads >= g.maxThreads {
		return false
	}
	g.threads++
	lockedProcs.add(1)
	return true
}

func (g *cpuGroups) give(n int) {
	g.mu.Lock()
	g.threads -= n
	g.mu.Unlock()
	lockedProcs.add(-n)
}

// lockedProcs raises GOMAXPROCS by the threads locked into containers'
// cpu groups. The kernel stops such a thread in the middle of Go code
// when its container has used its quota, and the goroutine keeps its P
// (one of GOMAXPROCS) until the next period lets it run: without a P
// of its own for each, two throttled containers on a 2-CPU host hold
// both Ps and stall every other goroutine of the daemon (measured: a
// bystander's `sh -c 'echo hi'` went from ~1 ms to 20–54 ms). An idle
// extra P costs nothing; a runnable one lets the Go scheduler use more
// threads than CPUs, which the kernel time-slices.
//
// It is the package's one process-wide variable, because GOMAXPROCS is
// process-wide: every Sandbox of the process adds to the same count.
var lockedProcs procCompensation

// procCompensation is the count behind lockedProcs.
type procCompensation struct {
	mu     sync.Mutex
	base   int // GOMAXPROCS without compensation
	locked int // threads locked into cpu groups
	extra  int // Ps added for them
}

// maxExtraProcs bounds the Ps added (each P holds a scheduler queue and
// an allocation cache).
const maxExtraProcs = 256

// add counts n more (or fewer) locked threads and sets GOMAXPROCS to
// base plus one per locked thread: at once when more are needed, and
// back down only once at most half are (each change stops the world).
func (p *procCompensation) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.extra == 0 && n > 0 && p.locked == 0 {
		p.base = runtime.GOMAXPROCS(0)
	}
	p.locked += n
	want := min(max(p.locked, 0), maxExtraProcs)
	if want != p.extra && (want > p.extra || want <= p.extra/2) {
		p.extra = want
		runtime.GOMAXPROCS(p.base + want)
	}
}

// forgetEnded drops the threads of cg that have ended from its joined
// set and the count (a locked goroutine's thread ends with it). The
// caller holds cg.mu.
func (cg *cpuGroup) forgetEnded() {
	n := 0
	for tid := range cg.joined {
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); err != nil {
			delete(cg.joined, tid)
			n++
		}
	}
	cg.g.give(n)
}
