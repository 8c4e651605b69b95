package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// signalWriter collects output and closes seen when it first holds want.
type signalWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	had := strings.Contains(s.b.String(), s.want)
	s.b.Write(p)
	if !had && strings.Contains(s.b.String(), s.want) {
		close(s.seen)
	}
	return len(p), nil
}

// TestBackgroundJobsCountAgainstPIDs is the bomb of background jobs of
// functions (issue 12): its goroutines count against its container's PIDs
// limit, so it starves itself well below the daemon-wide ceiling and a
// second container's commands still run.
func TestBackgroundJobsCountAgainstPIDs(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	if out, err := exec.Command("cp", "-r", filepath.Join(os.TempDir(), "sockerless-sandbox-test-cache"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	base := runtime.NumGoroutine()
	ceiling := base + 8000
	s, err := sandbox.New(ctx, sandbox.Options{CacheDir: dir, MaxGoroutines: ceiling})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	newCtr := func(l sandbox.Limits) *sandbox.Container {
		fs, err := rootfs.New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		c := s.NewContainer(fs)
		c.SetLimits(l)
		return c
	}
	bomb := newCtr(sandbox.Limits{PIDs: 1024})
	errb := &signalWriter{want: "can't fork", seen: make(chan struct{})}
	p, err := bomb.Start(ctx, sandbox.Process{Argv: []string{"sh", "-c", `f(){ f & f & wait; }; f`}, Stderr: errb})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill(); <-p.Done() }()
	select {
	case <-errb.seen:
	case <-p.Done():
		t.Fatalf("the bomb ended: %s", errb.b.String())
	case <-time.After(5 * time.Minute):
		t.Fatal("the bomb was never refused")
	}
	held := runtime.NumGoroutine()
	t.Logf("goroutines: %d before, %d with the bomb refused (daemon-wide ceiling %d)", base, held, ceiling)
	other := newCtr(sandbox.Limits{PIDs: 64})
	for range 5 {
		var out, serr lockedBuffer
		code, err := other.Run(ctx, sandbox.Process{Argv: []string{"sh", "-c", "echo ok | cat"}, Stdout: &out, Stderr: &serr})
		if err != nil || code != 0 || out.String() != "ok\n" {
			t.Fatalf("second container: code %d err %v stdout %q stderr %q (goroutines %d)", code, err, out.String(), serr.String(), runtime.NumGoroutine())
		}
	}
}
