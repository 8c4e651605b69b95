package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/sockerless/sockerless/relay/ticket"
)

// LogBufferSize bounds the main process output a MainProcess keeps for a
// late first attach (1 MiB).
const LogBufferSize = 1 << 20

// MainProcess is a container's main process run by the agent (the
// entrypoint wrapper mode): its output goes to the agent's own stdout and
// stderr (the workload's log) and to every attach session, its stdin is
// fed by attach sessions, and its exit code ends every attach.
type MainProcess struct {
	cmd  *exec.Cmd
	tty  *os.File
	in   io.WriteCloser
	done chan struct{}
	code int
	// release forgets the process as owned (see startOwned) after Wait.
	release func()
	// stdinOnce closes in when the first attach's input ends.
	stdinOnce bool

	mu       sync.Mutex
	sinks    map[*sink]struct{}
	buf      []chunk // bounded recent output for the first attach
	bufBytes int
	attached bool
	// attachedC is closed when attached becomes true.
	attachedC chan struct{}
}

type sink struct{ stdout, stderr io.Writer }

// chunk is output kept for the first attach, with the stream (1 stdout,
// 2 stderr) it came on, so the replay keeps the streams apart.
type chunk struct {
	stream int
	data   []byte
}

// MainSpec describes the main process.
type MainSpec struct {
	Process ticket.Process
	// Log receives the output as well (the agent's own stdout).
	Log io.Writer
	// NoStdin gives the process no standard input (/dev/null), as Docker
	// does for a container created without OpenStdin.
	NoStdin bool
	// StdinOnce closes the process's standard input when the first attach
	// session's input ends, as Docker's StdinOnce does.
	StdinOnce bool
	// ErrLog, when set, receives the standard error output instead of
	// Log (the agent's own stderr), so the workload's log keeps the two
	// streams apart as Docker's does.
	ErrLog io.Writer
}

// StartMain starts the main process.
func StartMain(ctx context.Context, s MainSpec) (*MainProcess, error) {
	p := s.Process
	env := p.Env
	if !hasKey(env, "PATH") {
		env = append(append([]string(nil), env...), "PATH="+DefaultPath)
	}
	if !hasKey(env, "HOME") {
		env = append(env, "HOME="+HomeOf(p.User))
	}
	dir := p.WorkingDir
	if dir == "" {
		dir = "/"
	}
	m := &MainProcess{done: make(chan struct{}), attachedC: make(chan struct{}), sinks: map[*sink]struct{}{}, stdinOnce: s.StdinOnce && !p.Tty}
	path, code, err := lookPath(p.Cmd[0], getenv(env, "PATH"), dir)
	if err != nil {
		m.code = code
		close(m.done)
		return m, err
	}
	cmd := &exec.Cmd{Path: path, Args: p.Cmd, Env: env, Dir: dir, SysProcAttr: &syscall.SysProcAttr{}, WaitDelay: outputDrain}
	if p.User != "" {
		cred, err := credential(p.User)
		if err != nil {
			m.code = ExitCannotExecute
			close(m.done)
			return m, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	m.cmd = cmd
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	var outputs []chan struct{}
	if p.Tty {
		f, release, err := startOwned(cmd, true, nil)
		if err != nil {
			m.code = startErrorCode(err)
			close(m.done)
			return m, err
		}
		m.tty, m.in, m.release = f, f, release
		outputs = append(outputs, m.pump(f, 1, log))
	} else {
		var in io.WriteCloser
		if !s.NoStdin {
			in, _ = cmd.StdinPipe()
		}
		// Pipes of our own, not StdoutPipe: Wait closes those as soon as
		// the process exits, losing output not read yet.
		outR, outW, err := os.Pipe()
		if err != nil {
			m.code = ExitCannotExecute
			close(m.done)
			return m, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			m.code = ExitCannotExecute
			close(m.done)
			return m, err
		}
		cmd.Stdout, cmd.Stderr = outW, errW
		m.in = in
		_, release, err := startOwned(cmd, false, nil)
		outW.Close()
		errW.Close()
		if err != nil {
			outR.Close()
			errR.Close()
			m.code = startErrorCode(err)
			close(m.done)
			return m, err
		}
		m.release = release
		errLog := log
		if s.ErrLog != nil {
			errLog = s.ErrLog
		}
		outputs = append(outputs, m.pump(outR, 1, log), m.pump(errR, 2, errLog))
	}
	go func() {
		err := cmd.Wait()
		m.release()
		for _, o := range outputs {
			select {
			case <-o:
			case <-time.After(outputDrain):
			}
		}
		m.code, _ = exitCode(cmd, err)
		if m.tty != nil {
			_ = m.tty.Close()
		}
		close(m.done)
	}()
	return m, nil
}

// pump copies one output stream to the log, the buffer and every sink.
// Sinks are written synchronously: a slow attach slows the process, as
// with Docker; nothing is dropped.
func (m *MainProcess) pump(r io.Reader, stream int, log io.Writer) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c, ok := r.(io.Closer); ok {
			defer c.Close()
		}
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			if n > 0 {
				data := b[:n]
				_, _ = log.Write(data)
				m.mu.Lock()
				if !m.attached {
					m.buf = append(m.buf, chunk{stream: stream, data: append([]byte(nil), data...)})
					m.bufBytes += len(data)
					for m.bufBytes > LogBufferSize && len(m.buf) > 1 {
						m.bufBytes -= len(m.buf[0].data)
						m.buf = m.buf[1:]
					}
				}
				for s := range m.sinks {
					w := s.stdout
					if stream == 2 {
						w = s.stderr
					}
					if _, err := w.Write(data); err != nil {
						delete(m.sinks, s)
					}
				}
				m.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	return done
}

// Done is closed when the main process has exited.
func (m *MainProcess) Done() <-chan struct{} { return m.done }

// ExitCode is the main process's Docker exit code, valid after Done.
func (m *MainProcess) ExitCode() int { return m.code }

// Attached reports whether an attach session has connected.
func (m *MainProcess) Attached() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attached
}

// AttachedC is closed once an attach session has connected: the agent's
// wait for a late attach after the exit ends there instead of lingering
// its whole bound.
func (m *MainProcess) AttachedC() <-chan struct{} { return m.attachedC }

// Signal sends signal n to the main process.
func (m *MainProcess) Signal(n int) error {
	if m.cmd == nil || m.cmd.Process == nil {
		return errors.New("no main process")
	}
	return m.cmd.Process.Signal(syscall.Signal(n))
}

// Attach connects stdio to the main process until it exits and returns
// its exit code. The first attach also gets the output produced before it
// (up to LogBufferSize), so a client attaching as the workload starts
// misses nothing.
func (m *MainProcess) Attach(ctx context.Context, stdio Stdio) (int, error) {
	s := &sink{stdout: orDiscard(stdio.Stdout), stderr: orDiscard(stdio.Stderr)}
	m.mu.Lock()
	if !m.attached {
		m.attached = true
		close(m.attachedC)
		for _, c := range m.buf {
			w := s.stdout
			if c.stream == 2 {
				w = s.stderr
			}
			_, _ = w.Write(c.data)
		}
		m.buf, m.bufBytes = nil, 0
	}
	m.sinks[s] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.sinks, s)
		m.mu.Unlock()
	}()
	if stdio.Stdin != nil && m.in != nil {
		go func() {
			_, _ = io.Copy(m.in, stdio.Stdin)
			if m.stdinOnce {
				_ = m.in.Close()
			}
		}()
	}
	for {
		select {
		case <-m.done:
			return m.code, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case n := <-stdio.Signal:
			_ = m.Signal(n)
		case sz := <-stdio.Resize:
			if m.tty != nil {
				_ = pty.Setsize(m.tty, &pty.Winsize{Rows: uint16(sz.Height), Cols: uint16(sz.Width)})
			}
		}
	}
}

// Local is the Workload of an agent running inside a container: execs are
// fork/exec'd on this machine and attach reaches the main process, or, in
// keep-alive mode (Main nil), waits until Stop.
type Local struct {
	// FSArchiver serves docker cp in the workload's filesystem (Root ""
	// is "/").
	FSArchiver
	// Main is the wrapped main process; nil in keep-alive mode. When
	// MainReady is set, attach waits for it to be closed before reading
	// Main (a wrapper starts the process after the relay link is up).
	Main      *MainProcess
	MainReady <-chan struct{}
	// Stopped is closed when a keep-alive agent is told to stop; attach
	// sessions then end with StopCode.
	Stopped  <-chan struct{}
	StopCode int
	// OnSignal, when set, receives the signals attach sessions send in
	// keep-alive mode (there is no main process to forward them to), so
	// the agent can treat them as if sent to it.
	OnSignal func(n int)
}

// Exec implements Workload.
func (l *Local) Exec(ctx context.Context, g ticket.Grant, p ticket.Process, stdio Stdio) (int, error) {
	return RunProcess(ctx, p, stdio)
}

// Attach implements Workload.
func (l *Local) Attach(ctx context.Context, g ticket.Grant, stdio Stdio) (int, error) {
	// The main process keeps its early output for the first attach, so the
	// session is ready before the process exists.
	stdio.Ready()
	if l.MainReady != nil {
		select {
		case <-l.MainReady:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if l.Main != nil {
		return l.Main.Attach(ctx, stdio)
	}
	if stdio.Stdin != nil {
		go func() { _, _ = io.Copy(io.Discard, stdio.Stdin) }()
	}
	for {
		select {
		case <-l.Stopped:
			return l.StopCode, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-stdio.Resize:
		case n := <-stdio.Signal:
			if l.OnSignal != nil {
				l.OnSignal(n)
			}
		}
	}
}
