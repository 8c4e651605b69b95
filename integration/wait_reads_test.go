package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/fnserver"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"github.com/sockerless/sockerless/localshim"
	"github.com/sockerless/sockerless/statestore/countstore"
)

// MaxWaitReads is the budget of store reads for a `docker wait` on
// a container that runs 10 minutes, on DynamoDB.
const MaxWaitReads = 60

// TestWaitStoreReads counts the store reads of `docker wait` (the real
// CLI) on a container that runs 10 minutes, on DynamoDB Local, without
// taking 10 minutes: the shim's back-off timer is driven. Each timer the
// wait arms fires at once and moves a virtual clock by its duration (the
// production schedule, localshim.DefaultBackoff); once the clock passes 10
// minutes the container's exit is reported, and the wait, woken by the
// relay's notice, confirms it. The reads of the exit report itself are not
// the wait's and are left out.
func TestWaitStoreReads(t *testing.T) {
	ctx := context.Background()
	store, err := fnserver.OpenStore(ctx, "dynamodb://waitreads?endpoint="+emulators.StartDynamoDB(t))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, counts := countstore.Wrap(store)
	const runFor = 10 * time.Minute

	var (
		mu          sync.Mutex
		virtual     time.Duration
		timers      int
		exitReads   int // reads made by the exit report, not by the wait
		ended       bool
		containerID string
		api         func() *embedded.Sockerless
	)
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		defer mu.Unlock()
		timers++
		virtual += d
		ch := make(chan time.Time, 1)
		if virtual < runFor || ended {
			ch <- time.Time{}
			return ch
		}
		// Ten minutes have passed: the workload ends and reports (the shim
		// is inside this call, so it cannot poll meanwhile).
		ended = true
		before := counts.Counts().Reads()
		if err := api().API.Exited(ctx, containerID, 3, time.Now()); err != nil {
			t.Errorf("exit report: %v", err)
		}
		exitReads = counts.Counts().Reads() - before
		return ch // fires too; the notice is already pending
	}
	s := startServer(t, embedded.Options{
		Synthetic: true, SyntheticRunTime: 24 * time.Hour, Store: wrapped,
		PollBackoff: localshim.DefaultBackoff, PollAfter: after, SweepInterval: -1,
	})
	api = func() *embedded.Sockerless { return s.s }
	runSteps(t, s, []step{d(0, ``, "pull", "alpine:3.20")})
	out, code := s.docker(t, "", "run", "-d", "--name", "long", "alpine:3.20", "sleep", "600")
	if code != 0 {
		t.Fatalf("run -d: %d %s", code, out)
	}
	containerID = strings.TrimSpace(out)

	before := counts.Counts().Reads()
	out, code = s.docker(t, "", "wait", "long")
	if code != 0 || strings.TrimSpace(out) != "3" {
		t.Fatalf("docker wait = %d %q, want exit code 3", code, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ended {
		t.Fatalf("the wait returned before the container ended (virtual %s)", virtual)
	}
	reads := counts.Counts().Reads() - before - exitReads
	t.Logf("docker wait on a %s container: %d store reads (%d back-off timers, virtual %s)", runFor, reads, timers, virtual)
	if reads > MaxWaitReads {
		t.Errorf("docker wait took %d store reads, budget %d", reads, MaxWaitReads)
	}
	if reads < 2 {
		t.Errorf("docker wait took %d store reads: the counting store is not in the path", reads)
	}
}
