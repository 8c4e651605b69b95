// Package synthetic is a provider that runs no processes
// (SOCKERLESS_SYNTHETIC=1). A start logs one line saying what would have
// run, and the main process "runs" 50 ms (200 ms with OpenStdin) and exits
// 0, or ends at once with 143/128+n when stopped or killed. Execs produce
// no output and exit 0; archive reads return an empty tar and writes are
// accepted and discarded. It exists so the Docker API surface can be
// exercised without any workload backend, and it is a labelled mode: it
// names itself in `docker info` and in its log line, and is never chosen
// silently.
//
// Its workloads still serve attach and exec through the relay, so the
// stream path is the same as every other provider's.
package synthetic

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Options configures a Provider.
type Options struct {
	// Hub is the in-process relay the workloads' agents register with.
	Hub *relay.Hub
	// Reporter receives exits.
	Reporter providers.Reporter
	// RunTime is how long a main process "runs" before exiting 0
	// (default 50 ms).
	RunTime time.Duration
}

// Provider is the synthetic provider. Safe for concurrent use.
type Provider struct {
	opts Options
	mu   sync.Mutex
	ws   map[string]*workload
}

// New returns a synthetic provider.
func New(opts Options) *Provider {
	if opts.RunTime <= 0 {
		opts.RunTime = 50 * time.Millisecond
	}
	return &Provider{opts: opts, ws: map[string]*workload{}}
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return "synthetic" }

// AttachesBeforeStart implements providers.EarlyAttacher: a workload's
// agent is registered at Create.
func (p *Provider) AttachesBeforeStart() bool { return true }

// workload is one container's synthetic main process.
type workload struct {
	id         string
	unregister func()
	mu         sync.Mutex
	logs       []providers.LogEntry
	cur        *run
	next       chan struct{} // closed at the next start
	removed    chan struct{}
}

type run struct {
	done     chan struct{}
	reported chan struct{} // closed once the exit has been reported
	end      chan int      // receives a code to end early
	pause    chan bool     // true stops the run's clock, false restarts it
	line     []byte        // what the start logged, also sent to attach sessions
	code     int
}

// Create registers the container's agent with the relay.
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	w := &workload{id: s.ID, next: make(chan struct{}), removed: make(chan struct{})}
	w.unregister = p.opts.Hub.Register(s.ID, func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
		_, _ = agent.ServeSession(ctx, conn, g, w, func(code int) {
			_ = p.opts.Reporter.ExecExited(context.WithoutCancel(ctx), g.ExecID, code, time.Now())
		})
	})
	p.mu.Lock()
	p.ws[s.ID] = w
	p.mu.Unlock()
	return nil
}

func (p *Provider) get(id string) (*workload, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.ws[id]
	if !ok {
		return nil, errdefs.NotFoundf("synthetic: no workload %s", id)
	}
	return w, nil
}

// Start begins a run that exits 0 after RunTime unless ended earlier.
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	w, err := p.get(s.ID)
	if err != nil {
		return err
	}
	r := &run{done: make(chan struct{}), reported: make(chan struct{}), end: make(chan int, 1), pause: make(chan bool)}
	runTime := p.opts.RunTime
	if s.OpenStdin && runTime < 200*time.Millisecond {
		runTime = 200 * time.Millisecond
	}
	argv := strings.Join(append(append([]string{}, s.Entrypoint...), s.Cmd...), " ")
	r.line = []byte("sockerless synthetic mode: no process runs for: " + argv + "\n")
	w.mu.Lock()
	w.logs = append(w.logs, providers.LogEntry{Stream: 1, Time: time.Now(), Data: r.line})
	w.cur = r
	close(w.next)
	w.next = make(chan struct{})
	w.mu.Unlock()
	go func() {
		left := runTime
		for {
			started := time.Now()
			timer := time.NewTimer(left)
			select {
			case <-timer.C:
			case r.code = <-r.end:
			case paused := <-r.pause:
				timer.Stop()
				if paused {
					left -= time.Since(started)
					// Frozen: only unpause or an end moves it on.
					for paused {
						select {
						case paused = <-r.pause:
						case r.code = <-r.end:
							paused = false
							left = -1
						}
					}
				}
				if left >= 0 {
					continue
				}
			}
			timer.Stop()
			break
		}
		close(r.done)
		_ = p.opts.Reporter.Exited(context.Background(), s.ID, r.code, time.Now())
		close(r.reported)
	}()
	return nil
}

func (p *Provider) end(id string, code int) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	w.mu.Lock()
	r := w.cur
	w.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case r.end <- code:
	default:
	}
	// Stop and kill return once the exit is recorded, so the caller sees
	// the real code, not its fallback.
	<-r.reported
	return nil
}

// Stop ends the run as SIGTERM would (143).
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	return p.end(id, 143)
}

// Kill ends the run with 128+signal.
func (p *Provider) Kill(ctx context.Context, id string, signal int) error {
	return p.end(id, 128+signal)
}

// Remove unregisters the workload's agent.
func (p *Provider) Remove(ctx context.Context, id string) error {
	p.mu.Lock()
	w, ok := p.ws[id]
	delete(p.ws, id)
	p.mu.Unlock()
	if ok {
		w.unregister()
		close(w.removed)
	}
	return nil
}

// Logs returns the lines the workload's starts logged. Cursors are entry
// indexes.
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	w, err := p.get(id)
	if err != nil {
		return providers.LogPage{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return providers.PageLogs(w.logs, 0, opts), nil
}

// Exec runs nothing: it reads and discards any input, writes no output
// and exits 0.
func (w *workload) Exec(ctx context.Context, g ticket.Grant, proc ticket.Process, stdio agent.Stdio) (int, error) {
	if stdio.Stdin != nil {
		_, _ = io.Copy(io.Discard, stdio.Stdin)
	}
	return 0, nil
}

// Attach waits for the current (or next) run to end and returns its code.
// Input is read and discarded.
func (w *workload) Attach(ctx context.Context, g ticket.Grant, stdio agent.Stdio) (int, error) {
	if stdio.Stdin != nil {
		go func() { _, _ = io.Copy(io.Discard, stdio.Stdin) }()
	}
	w.mu.Lock()
	r, next := w.cur, w.next
	w.mu.Unlock()
	stdio.Ready()
	if r == nil || isClosed(r.done) {
		select {
		case <-next:
		case <-w.removed:
			return 0, fmt.Errorf("container %s was removed", w.id)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		w.mu.Lock()
		r = w.cur
		w.mu.Unlock()
	}
	if g.Stdout {
		_, _ = stdio.Stdout.Write(r.line)
	}
	select {
	case <-r.done:
		return r.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Pause freezes the current run: its clock stops until Unpause.
func (p *Provider) Pause(ctx context.Context, id string) error {
	return p.setPaused(id, true)
}

// Unpause resumes a paused run.
func (p *Provider) Unpause(ctx context.Context, id string) error {
	return p.setPaused(id, false)
}

func (p *Provider) setPaused(id string, paused bool) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	w.mu.Lock()
	r := w.cur
	w.mu.Unlock()
	if r == nil || isClosed(r.done) {
		return errdefs.Conflictf("synthetic: container %s is not running", id)
	}
	select {
	case r.pause <- paused:
	case <-r.done:
	}
	return nil
}

// StatPath describes every path as a directory: the synthetic workload
// has no filesystem, and a directory is what lets docker cp proceed.
func (p *Provider) StatPath(ctx context.Context, id, pth string) (providers.PathStat, error) {
	if _, err := p.get(id); err != nil {
		return providers.PathStat{}, err
	}
	return providers.PathStat{Name: path.Base(pth), Mode: uint32(os.ModeDir | 0o755), Mtime: time.Now()}, nil
}

// GetArchive returns an empty tar.
func (p *Provider) GetArchive(ctx context.Context, id, pth string) (io.ReadCloser, providers.PathStat, error) {
	st, err := p.StatPath(ctx, id, pth)
	if err != nil {
		return nil, st, err
	}
	var buf bytes.Buffer
	_ = tar.NewWriter(&buf).Close()
	return io.NopCloser(&buf), st, nil
}

// PutArchive reads the tar to its end, checking that it is one, and
// discards it.
func (p *Provider) PutArchive(ctx context.Context, id, pth string, tarball io.Reader, noOverwriteDirNonDir bool) error {
	if _, err := p.get(id); err != nil {
		return err
	}
	tr := tar.NewReader(tarball)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("invalid tar archive: %w", err))
		}
	}
}

// Exists implements providers.Inspector: whether this process holds a
// workload for container id.
func (p *Provider) Exists(ctx context.Context, id string) (bool, error) {
	_, err := p.get(id)
	return err == nil, nil
}
