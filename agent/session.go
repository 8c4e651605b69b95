// Package agent is the process side of a Sockerless stream: it serves exec
// and attach sessions for one workload. The same ServeSession runs inside a
// cloud workload (cmd/sockerless-agent, dialled in through the relay) and
// inside the in-process providers, so exec and attach take one path in every
// mode.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/sockerless/sockerless/internal/bufpipe"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/tunnel"
)

// Stdio is a session's side of a process's standard streams.
type Stdio struct {
	// Stdin yields the client's input and io.EOF when the client half-closes;
	// nil when the session has no stdin.
	Stdin io.Reader
	// Stdout and Stderr send output to the client. With a TTY they are the
	// same writer.
	Stdout, Stderr io.Writer
	// Resize delivers terminal size changes.
	Resize <-chan frame.Size
	// Signal delivers signals the client sends.
	Signal <-chan int
	// Ready tells the client that an attach session is in place: Attach
	// calls it once the session receives the main process's output, and
	// the shim answers the client's upgrade only then, as Docker does, so
	// a client that attaches and then starts sees every byte. Safe to call
	// more than once; never nil in a session.
	Ready func()
}

// Workload runs the processes of one container.
type Workload interface {
	// Exec runs p to completion and returns its exit code, using Docker's
	// codes: 126 not executable, 127 not found, 128+n killed by signal n.
	Exec(ctx context.Context, g ticket.Grant, p ticket.Process, stdio Stdio) (int, error)
	// Attach connects stdio to the container's main process and returns its
	// exit code when it ends. It may be called before the process starts.
	Attach(ctx context.Context, g ticket.Grant, stdio Stdio) (int, error)
}

// StdinBuffer is how much client input a session buffers ahead of the
// process (1 MiB): enough that input typed before a process exists is kept,
// bounded so a process that never reads cannot grow memory.
const StdinBuffer = 1 << 20

// ServeSession serves one session on conn until the process ends: it reads
// client frames, runs the grant's exec or attach on w (or its archive
// operation, when w is an Archiver), sends output frames
// and ends with an Exit frame (or an Error frame). It returns the exit code
// sent. conn is closed on return.
//
// onExit, when not nil, is called with an exec's exit code before the Exit
// frame is sent, so a client that inspects the exec as soon as its stream
// ends sees the code recorded.
func ServeSession(ctx context.Context, conn io.ReadWriteCloser, g ticket.Grant, w Workload, onExit func(code int)) (int, error) {
	defer conn.Close()
	if rs, ok := conn.(tunnel.RawStream); ok && g.Kind == ticket.KindTunnel {
		if r, nc, ok := rs.Raw(); ok {
			return 0, serveRawTunnel(ctx, r, nc, g, w)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	out := &lockedWriter{w: conn}
	stdin := bufpipe.New(StdinBuffer)
	resize := make(chan frame.Size, 8)
	signal := make(chan int, 8)
	go func() {
		defer stdin.CloseWrite()
		fr := frame.Reader{R: conn} // payloads are consumed before the next frame
		for {
			f, err := fr.Next()
			if err != nil {
				// The client went away entirely: end stdin; the process
				// keeps running (for attach) or is cancelled by the caller.
				if errors.Is(err, frame.ErrTooLarge) {
					// A stream that breaks the framing cannot be read on
					// (a raw stream's bytes reach the agent unparsed):
					// end the session, as the relay ends a WebSocket's
					// on an oversize message.
					_ = conn.Close()
				}
				return
			}
			switch f.Type {
			case frame.Stdin:
				if _, err := stdin.Write(f.Payload); err != nil {
					return
				}
			case frame.CloseStdin:
				stdin.CloseWrite()
			case frame.Resize:
				var s frame.Size
				if json.Unmarshal(f.Payload, &s) == nil {
					select {
					case resize <- s:
					default:
					}
				}
			case frame.Signal:
				if n, err := strconv.Atoi(string(f.Payload)); err == nil {
					select {
					case signal <- n:
					default:
					}
				}
			}
		}
	}()

	var ready sync.Once
	stdio := Stdio{
		Stdout: frame.Writer{W: out, Type: frame.Stdout},
		Stderr: frame.Writer{W: out, Type: frame.Stderr},
		Resize: resize,
		Signal: signal,
		Ready:  func() { ready.Do(func() { _ = frame.Write(out, frame.Ready, nil) }) },
	}
	tty := g.Tty
	wantStdin := g.Stdin
	if g.Process != nil {
		tty, wantStdin = g.Process.Tty, g.Process.Stdin
	}
	if tty {
		stdio.Stderr = stdio.Stdout
	}
	detached := g.Kind == ticket.KindExec && g.Process != nil && g.Process.Detached
	if detached {
		// Nobody reads a detached exec's output, and its session may close
		// as soon as the process is handed over (the control plane does not
		// stay to drain it): write nowhere, so the process never sees a
		// broken pipe.
		stdio.Stdout, stdio.Stderr = io.Discard, io.Discard
	}
	if g.Kind == ticket.KindArchive {
		wantStdin = g.Archive != nil && g.Archive.Op == ticket.ArchivePut
	}
	if g.Kind == ticket.KindCarry || g.Kind == ticket.KindTunnel {
		wantStdin = true
	}
	if wantStdin {
		stdio.Stdin = stdin
	} else {
		stdin.Close()
	}
	if g.Kind == ticket.KindArchive {
		err := serveArchive(ctx, out, stdin, g, w)
		stdin.Close()
		if err != nil {
			_ = frame.Write(out, frame.Error, []byte(err.Error()))
		}
		return 0, err
	}
	if g.Kind == ticket.KindCarry || g.Kind == ticket.KindTunnel {
		serve := serveCarry
		if g.Kind == ticket.KindTunnel {
			serve = serveTunnel
		}
		err := serve(ctx, out, stdin, g, w)
		stdin.Close()
		if err != nil {
			_ = frame.Write(out, frame.Error, []byte(err.Error()))
		}
		return 0, err
	}

	var code int
	var err error
	switch g.Kind {
	case ticket.KindExec:
		if g.Process == nil {
			err = errors.New("exec session without a process spec")
			break
		}
		if detached {
			stdio.Ready()
		}
		code, err = w.Exec(ctx, g, *g.Process, stdio)
	case ticket.KindAttach:
		code, err = w.Attach(ctx, g, stdio)
	default:
		err = fmt.Errorf("unknown session kind %q", g.Kind)
	}
	stdin.Close()
	if err != nil {
		if g.Kind == ticket.KindExec && onExit != nil {
			onExit(126)
		}
		_ = frame.Write(out, frame.Error, []byte(err.Error()))
		return code, err
	}
	if g.Kind == ticket.KindExec && onExit != nil {
		onExit(code)
	}
	return code, frame.Write(out, frame.Exit, []byte(strconv.Itoa(code)))
}

// lockedWriter serialises whole frames from concurrent stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// WriteFrame implements frame.FrameWriter: the frame goes to the
// connection's own WriteFrame when it has one (no assembled copy).
func (l *lockedWriter) WriteFrame(t frame.Type, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return frame.Write(l.w, t, payload)
}
