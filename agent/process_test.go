package agent

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// process's stdout and stderr copiers.
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

func TestRunProcessExitCodes(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "notexec")
	os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644)
	tests := []struct {
		name    string
		p       ticket.Process
		signal  int
		want    int
		wantOut string
		wantErr string // in stderr; "stdout:" + text: in stdout (a process that could not start, as moby's exec start reports it)
	}{
		{"success", ticket.Process{Cmd: []string{"/bin/sh", "-c", "echo out; echo err >&2"}}, 0, 0, "out\n", "err\n"},
		{"failure", ticket.Process{Cmd: []string{"sh", "-c", "exit 1"}}, 0, 1, "", ""},
		{"exit 7", ticket.Process{Cmd: []string{"sh", "-c", "exit 7"}}, 0, 7, "", ""},
		{"not executable", ticket.Process{Cmd: []string{notExec}}, 0, 126, "", "stdout:" + "permission denied"},
		{"directory", ticket.Process{Cmd: []string{dir}}, 0, 126, "", "stdout:" + "is a directory"},
		{"not found", ticket.Process{Cmd: []string{"no-such-command-xyz"}}, 0, 127, "", "stdout:" + "executable file not found"},
		{"not found by path", ticket.Process{Cmd: []string{"/nonexistent/cmd"}}, 0, 127, "", "stdout:" + "no such file"},
		{"self-signalled", ticket.Process{Cmd: []string{"sh", "-c", "kill -TERM $$"}}, 0, 143, "", ""},
		{"signal from client", ticket.Process{Cmd: []string{"sleep", "30"}}, 9, 137, "", ""},
		{"env and workdir", ticket.Process{Cmd: []string{"sh", "-c", "echo $FOO; pwd"}, Env: []string{"FOO=bar"}, WorkingDir: dir}, 0, 0, "bar\n" + dir + "\n", ""},
		{"stdin", ticket.Process{Cmd: []string{"cat"}, Stdin: true}, 0, 0, "typed input", ""},
		{"user self", ticket.Process{Cmd: []string{"id", "-u"}, User: itoa(os.Getuid())}, 0, 0, itoa(os.Getuid()) + "\n", ""},
		{"unknown user", ticket.Process{Cmd: []string{"true"}, User: "no-such-user-xyz"}, 0, 126, "", "stdout:" + "unable to find user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb syncBuffer
			sig := make(chan int, 1)
			stdio := Stdio{Stdout: &out, Stderr: &errb, Signal: sig}
			if tt.p.Stdin {
				stdio.Stdin = strings.NewReader("typed input")
			}
			if tt.signal != 0 {
				go func() { time.Sleep(200 * time.Millisecond); sig <- tt.signal }()
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			code, err := RunProcess(ctx, tt.p, stdio)
			if err != nil {
				t.Fatalf("RunProcess() error = %v", err)
			}
			if code != tt.want {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.want, errb.String())
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if want, ok := strings.CutPrefix(tt.wantErr, "stdout:"); ok {
				if !strings.Contains(out.String(), want) || !strings.HasPrefix(out.String(), "OCI runtime exec failed: ") || errb.String() != "" {
					t.Errorf("stdout = %q, stderr = %q, want Docker's start error containing %q on stdout only", out.String(), errb.String(), want)
				}
			} else if tt.wantErr != "" && !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errb.String(), tt.wantErr)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRunProcessTTYResize(t *testing.T) {
	resize := make(chan frame.Size, 2)
	resize <- frame.Size{Height: 30, Width: 100}
	pr, pw := io.Pipe()
	var out syncBuffer
	stdio := Stdio{Stdout: &out, Stderr: &out, Resize: resize, Stdin: pr}
	done := make(chan int, 1)
	go func() {
		code, _ := RunProcess(t.Context(), ticket.Process{Cmd: []string{"sh", "-c", "stty size; read x; stty size"}, Tty: true, Stdin: true}, stdio)
		done <- code
	}()
	waitFor(t, &out, "30 100")
	resize <- frame.Size{Height: 40, Width: 120}
	time.Sleep(200 * time.Millisecond)
	io.WriteString(pw, "go\n")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code = %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tty process did not exit")
	}
	if !strings.Contains(out.String(), "40 120") {
		t.Errorf("output after resize = %q, want 40 120", out.String())
	}
	pw.Close()
}

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q never contained %q", b.String(), s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
