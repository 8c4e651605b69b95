package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/countstore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// MaxRunRoundTrips is the budget of state-store round trips for one whole
// `docker run --rm`: the target of 12, which it meets today, so
// that no change adds any.
const MaxRunRoundTrips = 12

// rtServer is an embedded Sockerless (memory provider) over a counting
// wrapper of a state store.
type rtServer struct {
	*server
	counts *countstore.Store
}

func startRTServer(t testing.TB, store statestore.Store, opts embedded.Options) *rtServer {
	t.Helper()
	wrapped, counts := countstore.Wrap(store)
	opts.Store, opts.StateDir = wrapped, t.TempDir()
	opts.CacheDir = filepath.Join(os.TempDir(), "sockerless-test-wazero")
	s := startServer(t, opts)
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
// holds a whole `docker run --rm` to MaxRunRoundTrips. The memory store's
// change notifications are hidden: the cloud stores have none, and it is
// their round trips that cost money. A wait then polls only when woken:
// by the relay's notice of its container's exit or removal, or by the
// shim's back-off timer, which this test sets to an hour so that the
// count cannot depend on how long a container takes under load (it was
// 13 for a budget of 12 when an extra 100 ms poll slipped in).
func TestStoreRoundTrips(t *testing.T) {
	s := startRTServer(t, unwatched{memory.New()}, embedded.Options{
		PollBackoff: func(int, time.Duration) time.Duration { return time.Hour },
	})
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

// BenchmarkStoreRoundTrips runs a container's life (create, start,
// inspect, ps, exec, rm -f) and a whole `docker run --rm` through the
// docker CLI against the embedded server (memory provider) over each state
// store: memory, DynamoDB Local, Azurite and the Firestore emulator. It
// reports, per operation, the store round trips (<op>-rt) and the CLI's
// wall time in milliseconds (<op>-ms), averaged over the iterations.
func BenchmarkStoreRoundTrips(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) statestore.Store
	}{
		{"memory", func(*testing.B) statestore.Store { return memory.New() }},
		{"dynamodb", func(b *testing.B) statestore.Store {
			return benchOpen(b, "dynamodb://bench?endpoint="+emulators.StartDynamoDB(b))
		}},
		{"aztables", func(b *testing.B) statestore.Store {
			e := benchEmulator(b, emulators.Azurite)
			return benchOpen(b, "aztables://"+emulators.AzuriteAccount+"/bench?endpoint=http://"+e.Addr)
		}},
		{"firestore", func(b *testing.B) statestore.Store {
			return benchOpen(b, "firestore://bench?endpoint="+emulators.StartFirestore(b))
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := startRTServer(b, st.open(b), embedded.Options{})
			for _, op := range rtOps { // warm-up
				s.measure(b, op.args(0)...)
			}
			rt := map[string]int{}
			ms := map[string]time.Duration{}
			n := 0
			for b.Loop() {
				n++
				for _, op := range rtOps {
					c, d := s.measure(b, op.args(n)...)
					rt[op.name] += c.Total()
					ms[op.name] += d
				}
			}
			for _, op := range rtOps {
				unit := strings.ReplaceAll(strings.ReplaceAll(op.name, " --", "-"), " -", "-")
				b.ReportMetric(float64(rt[op.name])/float64(n), unit+"-rt")
				b.ReportMetric(float64(ms[op.name].Microseconds())/1000/float64(n), unit+"-ms")
			}
		})
	}
}

func benchEmulator(b *testing.B, start func() (*emulators.Emulator, error)) *emulators.Emulator {
	b.Helper()
	e, err := start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Stop)
	return e
}

func benchOpen(b *testing.B, state string) statestore.Store {
	b.Helper()
	s, err := fnserver.OpenStore(context.Background(), state)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// unwatched hides a store's statestore.Watcher, as the cloud stores lack one.
type unwatched struct{ statestore.Store }
