package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// exitFaultStore fails, once armed, the next container read and then the
// next container write made outside any client request (the workload's
// exit report; requests carry their server's context), as an unreachable
// store would, and tells when such a container write succeeded after
// both.
type exitFaultStore struct {
	statestore.Store
	mu       sync.Mutex
	plan     []string
	recorded chan struct{}
}

func (f *exitFaultStore) arm(plan ...string) {
	f.mu.Lock()
	f.plan = plan
	f.mu.Unlock()
}

func (f *exitFaultStore) fail(ctx context.Context, op, kind string) error {
	if ctx.Value(http.ServerContextKey) != nil {
		return nil // a client request's call
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.plan) > 0 && f.plan[0] == op+" "+kind {
		f.plan = f.plan[1:]
		return errdefs.Unavailable(fmt.Errorf("%s %s: state store unreachable (injected)", op, kind))
	}
	return nil
}

func (f *exitFaultStore) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	if err := f.fail(ctx, "Get", kind); err != nil {
		return statestore.Record{}, err
	}
	return f.Store.Get(ctx, kind, id)
}

func (f *exitFaultStore) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := f.fail(ctx, "Update", r.Kind); err != nil {
		return statestore.Record{}, err
	}
	out, err := f.Store.Update(ctx, r, evs...)
	f.mu.Lock()
	if err == nil && r.Kind == "container" && ctx.Value(http.ServerContextKey) == nil && f.plan != nil && len(f.plan) == 0 {
		f.plan = nil
		close(f.recorded)
	}
	f.mu.Unlock()
	return out, err
}

// TestExitReportStoreFault: while a container runs, the store fails the
// read of its exit report and then its write. The report is not taken as
// done: the workload's reporter retries until the store holds the exit,
// so the container ends exited with its own code, and docker wait (the
// real CLI) returns it.
func TestExitReportStoreFault(t *testing.T) {
	fs := &exitFaultStore{Store: memory.New(), recorded: make(chan struct{})}
	s := startServer(t, embedded.Options{Store: fs, StateDir: t.TempDir(),
		CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero"), SweepInterval: -1})
	runSteps(t, s, []step{d(0, ``, "pull", "alpine:3.20")})
	fs.arm("Get container", "Update container")
	runSteps(t, s, []step{d(0, ``, "run", "-d", "--name", "faulty", "alpine:3.20", "sh", "-c", "sleep 1; exit 7")})
	select {
	case <-fs.recorded:
	case <-time.After(2 * time.Minute): // a hang guard
		t.Fatal("the exit was never recorded after the store failed its report")
	}
	if out := strings.TrimSpace(runOut(t, s, "wait", "faulty")); out != "7" {
		t.Fatalf("docker wait faulty = %q, want 7", out)
	}
	if out := strings.TrimSpace(runOut(t, s, "inspect", "faulty", "--format", "{{.State.Status}} {{.State.ExitCode}}")); out != "exited 7" {
		t.Fatalf("after the faulty report: %q, want exited 7", out)
	}
}

func runOut(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, code := s.docker(t, "", args...)
	if code != 0 {
		t.Fatalf("docker %v: exit %d\n%s", args, code, out)
	}
	return out
}
