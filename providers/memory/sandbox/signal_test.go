package sandbox_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until out contains want (a hang guard, not a timing).
func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q: %q", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTraps: a shell's signal traps run between its commands, for the
// process Start ran; an Init process ignores what it does not trap.
func TestTraps(t *testing.T) {
	c := newContainer(t)
	tests := []struct {
		name   string
		init   bool
		script string
		sigs   []syscall.Signal
		code   int
		out    string
	}{
		{"usr1 then term", false, `trap 'echo u1' USR1; trap 'echo t; exit 7' SIGTERM; echo ready; while :; do sleep 0.01; done`,
			[]syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}, 7, "ready\nu1\nt\n"},
		{"numbers", false, `trap 'echo hup' 1; trap 'echo int; exit 0' 2; echo ready; while :; do :; done`,
			[]syscall.Signal{syscall.SIGHUP, syscall.SIGINT}, 0, "ready\nhup\nint\n"},
		{"reset to default", false, `trap 'echo x' TERM; trap - TERM; echo ready; while :; do sleep 0.01; done`,
			[]syscall.Signal{syscall.SIGTERM}, 143, "ready\n"},
		{"ignored, then killed", false, `trap '' TERM; echo ready; while :; do sleep 0.01; done`,
			[]syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, 137, "ready\n"},
		{"init ignores untrapped", true, `echo ready; while :; do sleep 0.01; done`,
			[]syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR2, syscall.SIGKILL}, 137, "ready\n"},
		{"nested shell's trap is not the process's", false, `sh -c "trap 'echo inner' TERM"; echo ready; while :; do sleep 0.01; done`,
			[]syscall.Signal{syscall.SIGTERM}, 143, "ready\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &syncBuffer{}
			p, err := c.Start(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", tc.script}, Stdout: out, Stderr: out, Init: tc.init})
			if err != nil {
				t.Fatal(err)
			}
			waitOutput(t, out, "ready\n")
			for i, sig := range tc.sigs {
				if err := p.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if i < len(tc.sigs)-1 {
					// Each trap's output before the next signal.
					want := strings.Split(strings.TrimSuffix(tc.out, "\n"), "\n")
					if i+1 < len(want) {
						waitOutput(t, out, want[i+1]+"\n")
					}
				}
			}
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("process did not end")
			}
			if code, _ := p.Wait(); code != tc.code || out.String() != tc.out {
				t.Errorf("exit %d, output %q; want %d, %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
