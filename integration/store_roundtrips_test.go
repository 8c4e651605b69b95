package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/countstore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// MaxRunRoundTrips is the budget of state-store round trips for one whole
// `docker run --rm`: what it costs today, so that no change adds any. The
// target is 12; docs/performance.md ("State store round trips and cost")
// lists what stands between the two.
const MaxRunRoundTrips = 27

// rtServer is an embedded Sockerless (memory provider) over a counting
// wrapper of a state store.
type rtServer struct {
	*server
	counts *countstore.Store
}

func startRTServer(t testing.TB, store statestore.Store) *rtServer {
	t.Helper()
	wrapped, counts := countstore.Wrap(store)
	s := startServer(t, embedded.Options{
		Store: wrapped, StateDir: t.TempDir(),
		CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero"),
	})
	rs := &rtServer{server: s, counts: counts}
	rs.must(t, "pull", "alpine:3.20")
	return rs
}

func (s *rtServer) must(t testing.TB, args ...string) string {
	t.Helper()
	out, code := s.docker(t, "", args...)
	if code != 0 {
		t.Fatalf("docker %v: exit %d\n%s", args, code, out)
	}
	return out
}

// measure runs the docker command and returns the store calls it caused
// (including any that land just after the CLI returns, such as a
// workload's exit report) and the command's wall time.
func (s *rtServer) measure(t testing.TB, args ...string) (countstore.Counts, time.Duration) {
	t.Helper()
	before := s.counts.Counts()
	t0 := time.Now()
	s.must(t, args...)
	d := time.Since(t0)
	// Settle: wait until no call has been made for 150 ms (at most 3 s).
	last, lastChange := s.counts.Counts().Total(), time.Now()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		if n := s.counts.Counts().Total(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= 150*time.Millisecond {
			break
		}
	}
	return s.counts.Counts().Sub(before), d
}

// rtOp is one Docker operation of the round-trip table.
type rtOp struct {
	name string
	args func(n int) []string
}

// rtOps is the sequence measured: a container's life (create, start,
// inspect, ps, exec, rm) and a whole `docker run --rm`.
var rtOps = []rtOp{
	{"create", func(n int) []string {
		return []string{"create", "--name", fmt.Sprintf("rt%d", n), "alpine:3.20", "sleep", "30"}
	}},
	{"start", func(n int) []string { return []string{"start", fmt.Sprintf("rt%d", n)} }},
	{"inspect", func(n int) []string { return []string{"inspect", fmt.Sprintf("rt%d", n)} }},
	{"ps", func(int) []string { return []string{"ps"} }},
	{"exec", func(n int) []string { return []string{"exec", fmt.Sprintf("rt%d", n), "true"} }},
	{"rm -f", func(n int) []string { return []string{"rm", "-f", fmt.Sprintf("rt%d", n)} }},
	{"run --rm", func(int) []string { return []string{"run", "--rm", "alpine:3.20", "true"} }},
}

// TestStoreRoundTrips counts the state-store calls of each Docker
// operation through the docker CLI (memory store, memory provider) and
// holds a whole `docker run --rm` to MaxRunRoundTrips.
func TestStoreRoundTrips(t *testing.T) {
	s := startRTServer(t, memory.New())
	// One warm-up sequence (first use of the image, the default networks),
	// then the measured one.
	results := map[string]countstore.Counts{}
	var trace []string
	var traceMu sync.Mutex
	for round := 0; round < 2; round++ {
		for _, op := range rtOps {
			if round == 1 && op.name == "run --rm" {
				s.counts.Trace(func(c countstore.Call) {
					traceMu.Lock()
					trace = append(trace, fmt.Sprintf("%s %s %s", c.Op, c.Kind, c.ID))
					traceMu.Unlock()
				})
			}
			c, _ := s.measure(t, op.args(round)...)
			s.counts.Trace(nil)
			results[op.name] = c
		}
	}
	traceMu.Lock()
	t.Logf("docker run --rm, store calls in order:\n  %s", strings.Join(trace, "\n  "))
	traceMu.Unlock()
	var table strings.Builder
	for _, op := range rtOps {
		c := results[op.name]
		fmt.Fprintf(&table, "%-9s %2d (%d reads, %d writes): %s\n", op.name, c.Total(), c.Reads(), c.Writes(), c)
	}
	t.Logf("store round trips per Docker operation:\n%s", table.String())
	if n := results["run --rm"].Total(); n > MaxRunRoundTrips {
		t.Errorf("docker run --rm took %d store round trips, budget %d:\n%s", n, MaxRunRoundTrips, table.String())
	}
	for _, op := range rtOps {
		if results[op.name].Total() == 0 {
			t.Errorf("%s made no store calls: the counting wrapper is not in the path", op.name)
		}
	}
}
