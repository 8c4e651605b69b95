package agent

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

// The output a main process writes before its first attach reaches that
// attach on the stream it was written to.
func TestFirstAttachGetsEarlyOutputByStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := StartMain(ctx, MainSpec{Process: ticket.Process{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Env: []string{"PATH=/usr/bin:/bin"}}})
	if err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	var out, errb bytes.Buffer
	code, err := m.Attach(ctx, Stdio{Stdout: &out, Stderr: &errb, Ready: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 || out.String() != "out\n" || errb.String() != "err\n" {
		t.Errorf("Attach() = %d, stdout %q, stderr %q; want 3, %q, %q", code, out.String(), errb.String(), "out\n", "err\n")
	}
}

// With StdinOnce, the end of the first attach's input is the end of the
// process's stdin (docker run -i ... cat ends).
func TestStdinOnceClosesStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := StartMain(ctx, MainSpec{StdinOnce: true, Process: ticket.Process{Cmd: []string{"cat"}, Env: []string{"PATH=/usr/bin:/bin"}}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := m.Attach(ctx, Stdio{Stdin: bytes.NewReader([]byte("piped\n")), Stdout: &out, Stderr: &out, Ready: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out.String() != "piped\n" {
		t.Errorf("Attach() = %d, %q; want 0, %q", code, out.String(), "piped\n")
	}
}

// AttachedC is open until the first attach and closed from then on, so
// the agent's wait for a late attach after the exit ends at it.
func TestAttachedCClosesAtFirstAttach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := StartMain(ctx, MainSpec{Process: ticket.Process{Cmd: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}})
	if err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	select {
	case <-m.AttachedC():
		t.Fatal("AttachedC closed before any attach")
	default:
	}
	if _, err := m.Attach(ctx, Stdio{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Ready: func() {}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.AttachedC():
	default:
		t.Fatal("AttachedC still open after an attach")
	}
	if !m.Attached() {
		t.Error("Attached() = false after an attach")
	}
	// A second attach must not close it again (a panic).
	if _, err := m.Attach(ctx, Stdio{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Ready: func() {}}); err != nil {
		t.Fatal(err)
	}
}
