package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// pausingWriter collects output and pauses the container at the first
// write, so the process is paused between two known steps.
type pausingWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	c   *sandbox.Container
}

func (p *pausingWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf.Len() == 0 {
		p.c.Pause()
	}
	return p.buf.Write(b)
}

func (p *pausingWriter) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitStopped waits (for at most a minute: the failure is a hang, not a
// slow machine) until n processes of c are stopped at the pause gate.
func waitStopped(t *testing.T, c *sandbox.Container, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for c.Stopped() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes stopped at the pause gate, want %d", c.Stopped(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPauseStopsProcesses: a paused container's shell does not run its
// next command and its applet does not get past its next read until
// Resume; a kill ends a paused process.
func TestPauseStopsProcesses(t *testing.T) {
	cases := []struct {
		name  string
		argv  []string
		input string // written to stdin once the process is paused
		kill  bool
		want  string
		code  int
	}{
		{name: "shell command", argv: []string{"sh", "-c", "echo a; echo b"}, want: "a\nb\n"},
		{name: "applet read", argv: []string{"cat"}, input: "b\n", want: "a\nb\n"},
		{name: "kill while paused", argv: []string{"sh", "-c", "echo a; echo b"}, kill: true, want: "a\n", code: 137},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t)
			out := &pausingWriter{c: c}
			pr, pw := io.Pipe()
			defer pw.Close()
			p, err := c.Start(context.Background(), sandbox.Process{Argv: tc.argv, Stdout: out, Stdin: pr})
			if err != nil {
				t.Fatal(err)
			}
			if tc.input != "" {
				if _, err := pw.Write([]byte("a\n")); err != nil {
					t.Fatal(err)
				}
			}
			for out.String() == "" {
				select {
				case <-p.Done():
					t.Fatalf("process ended before pausing: %q", out.String())
				default:
					time.Sleep(time.Millisecond)
				}
			}
			if !c.Paused() {
				t.Fatal("container not paused after the first write")
			}
			if tc.input != "" {
				go func() { _, _ = pw.Write([]byte(tc.input)); pw.Close() }()
			} else {
				pw.Close()
			}
			waitStopped(t, c, 1)
			if got := out.String(); got != "a\n" {
				t.Fatalf("output while paused: %q, want \"a\\n\"", got)
			}
			select {
			case <-p.Done():
				t.Fatal("the paused process ended")
			default:
			}
			if tc.kill {
				if err := p.Kill(); err != nil {
					t.Fatal(err)
				}
			} else {
				c.Resume()
			}
			code, _ := p.Wait()
			if code != tc.code || out.String() != tc.want {
				t.Errorf("after resume/kill: exit %d, output %q; want %d %q", code, out.String(), tc.code, tc.want)
			}
		})
	}
}
