// Package launcher is test infrastructure: a provider that runs each
// container's workload as a local sockerless-agent process with the
// environment a cloud provider would give it (relay URL, container id,
// agent token, control-plane URL), so the shim, functions, relay and
// agents are exercised end to end as separate processes on loopback. It
// is not a provider users are offered: processes run on the host, with
// no image filesystem and no isolation.
package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Options configures a Provider.
type Options struct {
	// AgentBinary is the path of a built sockerless-agent.
	AgentBinary string
	// RelayURL, ControlPlaneURL and Secret are what a cloud provider
	// would pass its workloads (the token is derived per container).
	RelayURL, ControlPlaneURL string
	Secret                    []byte
}

// Provider launches agents as local processes. Safe for concurrent use.
type Provider struct {
	opts Options
	mu   sync.Mutex
	ws   map[string]*workload
}

type workload struct {
	spec providers.Spec
	cmd  *exec.Cmd
	done chan struct{}
	out  *logBuffer
}

// New returns a launcher provider.
func New(opts Options) *Provider { return &Provider{opts: opts, ws: map[string]*workload{}} }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "local-launcher (test only)" }

// Create records the spec.
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ws[s.ID] = &workload{spec: s, out: &logBuffer{}}
	return nil
}

func (p *Provider) get(id string) (*workload, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.ws[id]
	if !ok {
		return nil, errdefs.NotFoundf("launcher: no workload %s", id)
	}
	return w, nil
}

// Start launches the agent wrapping the container's command (or in
// keep-alive mode when it has none).
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	w, err := p.get(s.ID)
	if err != nil {
		return err
	}
	argv := append(append([]string(nil), s.Entrypoint...), s.Cmd...)
	args := []string{"--keep-alive"}
	if len(argv) > 0 {
		args = append([]string{"--"}, argv...)
	}
	cmd := exec.Command(p.opts.AgentBinary, args...)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH")}, s.Env...),
		"SOCKERLESS_RELAY_URL="+p.opts.RelayURL,
		"SOCKERLESS_CONTAINER_ID="+s.ID,
		"SOCKERLESS_AGENT_TOKEN="+ticket.AgentToken(p.opts.Secret, s.ID),
		"SOCKERLESS_CONTROL_PLANE_URL="+p.opts.ControlPlaneURL,
		"SOCKERLESS_TTY="+strconv.FormatBool(s.Tty),
	)
	if s.Healthcheck != nil {
		hc, err := json.Marshal(s.Healthcheck)
		if err != nil {
			return err
		}
		cmd.Env = append(cmd.Env, "SOCKERLESS_HEALTHCHECK="+string(hc))
	}
	cmd.Dir = os.TempDir()
	if s.WorkingDir != "" {
		if st, err := os.Stat(s.WorkingDir); err == nil && st.IsDir() {
			cmd.Dir = s.WorkingDir
		}
	}
	cmd.Stdout = w.out.stream(1)
	cmd.Stderr = w.out.stream(2)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("launcher: start agent: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	w.cmd, w.done = cmd, done
	p.mu.Unlock()
	return nil
}

// Stop sends SIGTERM, then SIGKILL after timeout.
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	if w.cmd == nil {
		return nil
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
	return nil
}

// Kill sends signal to the agent, which forwards it to the main process.
func (p *Provider) Kill(ctx context.Context, id string, signal int) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	if w.cmd != nil {
		_ = w.cmd.Process.Signal(syscall.Signal(signal))
	}
	return nil
}

// Remove kills the agent's process group.
func (p *Provider) Remove(ctx context.Context, id string) error {
	p.mu.Lock()
	w, ok := p.ws[id]
	delete(p.ws, id)
	p.mu.Unlock()
	if ok && w.cmd != nil {
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	}
	return nil
}

// Logs returns the agent's captured output (the workload's log).
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	w, err := p.get(id)
	if err != nil {
		return providers.LogPage{}, err
	}
	return w.out.page(opts), nil
}

// logBuffer keeps a workload's output as entries.
type logBuffer struct {
	mu      sync.Mutex
	entries []providers.LogEntry
}

type streamWriter struct {
	b      *logBuffer
	stream int
}

func (b *logBuffer) stream(n int) *streamWriter { return &streamWriter{b: b, stream: n} }

func (s *streamWriter) Write(p []byte) (int, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.entries = append(s.b.entries, providers.LogEntry{Stream: s.stream, Time: time.Now(), Data: bytes.Clone(p)})
	return len(p), nil
}

func (b *logBuffer) page(opts providers.LogOptions) providers.LogPage {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := 0
	if opts.After != "" {
		start, _ = strconv.Atoi(opts.After)
	} else if opts.Tail > 0 && opts.Tail < len(b.entries) {
		start = len(b.entries) - opts.Tail
	}
	start = min(start, len(b.entries))
	var out []providers.LogEntry
	for _, e := range b.entries[start:] {
		if (!opts.Since.IsZero() && e.Time.Before(opts.Since)) || (!opts.Until.IsZero() && e.Time.After(opts.Until)) {
			continue
		}
		out = append(out, e)
	}
	return providers.LogPage{Entries: out, Cursor: strconv.Itoa(len(b.entries))}
}
