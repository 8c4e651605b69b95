// Package memory is the embedded default provider: each container's
// processes run in-process in the WASM sandbox (package sandbox), confined
// to the container's own root directory and mounts (package rootfs). Its
// workloads serve exec and attach through the relay exactly as a cloud
// agent does (agent.ServeSession), so streams take one path in every mode.
package memory

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/bufpipe"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Options configures a Provider.
type Options struct {
	// Hub is the in-process relay the workloads' agents register with.
	Hub *relay.Hub
	// Reporter receives exits and exec exits.
	Reporter providers.Reporter
	// Sandbox runs the processes; shared by all containers.
	Sandbox *sandbox.Sandbox
	// StateDir holds container root directories and named volumes.
	StateDir string
	// Ceiling is the most any container may take, and what a container
	// gets when it asks for no limit: --memory, --pids-limit and --ulimit
	// nofile are capped by it. Zero fields take DefaultCeiling's, which
	// SOCKERLESS_CONTAINER_MEMORY, SOCKERLESS_CONTAINER_PIDS and
	// SOCKERLESS_CONTAINER_NOFILE override.
	Ceiling sandbox.Limits
}

// DefaultCeiling is the per-container ceiling without configuration: a
// container can take at most this much of the daemon.
func DefaultCeiling() sandbox.Limits {
	return sandbox.Limits{MemoryBytes: 256 << 20, PIDs: 1024, NoFile: 4096}
}

// ceilingEnv is the environment's say on the ceiling.
type ceilingEnv struct {
	Memory byteSize `env:"SOCKERLESS_CONTAINER_MEMORY"`
	PIDs   int      `env:"SOCKERLESS_CONTAINER_PIDS"`
	NoFile int      `env:"SOCKERLESS_CONTAINER_NOFILE"`
}

// byteSize is a size as Docker's flags write it: 512m, 1g, 1048576.
type byteSize int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *byteSize) UnmarshalText(text []byte) error {
	n, err := parseBytes(string(text))
	*b = byteSize(n)
	return err
}

// parseBytes reads a size with an optional b, k, m or g suffix (powers of
// 1024, as docker run --memory).
func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult, t = 1<<10, t[:len(t)-1]
		case 'm':
			mult, t = 1<<20, t[:len(t)-1]
		case 'g':
			mult, t = 1<<30, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// resolveCeiling fills o.Ceiling's zero fields from the environment, then
// from DefaultCeiling.
func resolveCeiling(o *Options) error {
	var e ceilingEnv
	if err := env.Parse(&e); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	c, d := &o.Ceiling, DefaultCeiling()
	c.MemoryBytes = cmp.Or(c.MemoryBytes, int64(e.Memory), d.MemoryBytes)
	c.PIDs = cmp.Or(c.PIDs, e.PIDs, d.PIDs)
	c.NoFile = cmp.Or(c.NoFile, e.NoFile, d.NoFile)
	return nil
}

// Applies implements providers.FlagApplier: the sandbox enforces
// --memory, --pids-limit, --ulimit nofile and nproc, --read-only,
// --tmpfs (with its size=), --storage-opt size= and the json-file log
// options; nothing else of HostConfig's resource and privilege settings.
func (p *Provider) Applies(flag string) bool {
	switch flag {
	case "memory", "pids-limit", "ulimit nofile", "ulimit nproc", "read-only", "tmpfs", "log-opt", "storage-opt", "tmpfs size":
		return true
	case "cpus":
		return p.opts.Sandbox.CPULimits()
	}
	return false
}

// limitsFor is what container s may take: what it asked for, within the
// ceiling.
func (p *Provider) limitsFor(s providers.Spec) sandbox.Limits {
	l := p.opts.Ceiling
	within := func(asked, ceiling int64) int64 {
		if asked > 0 && asked < ceiling {
			return asked
		}
		return ceiling
	}
	l.MemoryBytes = within(s.Resources.Memory, l.MemoryBytes)
	l.PIDs = int(within(s.Resources.PidsLimit, int64(l.PIDs)))
	if n := s.Resources.NanoCPUs; n > 0 && (l.NanoCPUs == 0 || n < l.NanoCPUs) {
		l.NanoCPUs = n // no CPU ceiling unless one is configured
	}
	for _, u := range s.Resources.Ulimits {
		switch u.Name {
		case "nofile":
			l.NoFile = int(within(u.Soft, int64(l.NoFile)))
		case "nproc":
			l.PIDs = int(within(u.Soft, int64(l.PIDs)))
		}
	}
	return l
}

// Provider is the memory provider. Safe for concurrent use.
type Provider struct {
	opts   Options
	layers *layerstore.Store
	mu     sync.Mutex
	ws     map[string]*workload
}

// New returns a memory provider.
func New(opts Options) (*Provider, error) {
	if opts.Hub == nil || opts.Reporter == nil || opts.Sandbox == nil || opts.StateDir == "" {
		return nil, errors.New("memory: Hub, Reporter, Sandbox and StateDir are required")
	}
	if err := resolveCeiling(&opts); err != nil {
		return nil, err
	}
	for _, d := range []string{"containers", "volumes"} {
		if err := os.MkdirAll(filepath.Join(opts.StateDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("memory: state dir: %w", err)
		}
	}
	ls, err := layerstore.New(filepath.Join(opts.StateDir, "layers"))
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	return &Provider{opts: opts, layers: ls, ws: map[string]*workload{}}, nil
}

// LayerStore implements providers.LayerKeeper: image layers live under
// StateDir/layers, one uncompressed tar per diff id.
func (p *Provider) LayerStore() *layerstore.Store { return p.layers }

// RunInRoot implements providers.RootRunner: p runs in a sandbox
// container whose "/" is the host directory root, with no mounts.
func (p *Provider) RunInRoot(ctx context.Context, root string, rp providers.RootProcess) (int, error) {
	rfs, err := rootfs.New(root, nil)
	if err != nil {
		return -1, fmt.Errorf("memory: %w", err)
	}
	defer rfs.Close()
	uid, gid, err := lookupUser(rfs, rp.User)
	if err != nil {
		return -1, err
	}
	ctr := p.opts.Sandbox.NewContainer(rfs)
	ctr.SetLimits(p.opts.Ceiling)
	return ctr.Run(ctx, sandbox.Process{
		Argv: rp.Argv, Env: rp.Env, Dir: rp.Dir, Stdout: rp.Stdout, Stderr: rp.Stderr, UID: uid, GID: gid,
	})
}

// unpackImage applies the image's layers, bottom first, to the empty
// directory root. Every entry is written through rootfs (no mounts yet,
// so nothing lands in a volume or bind), whiteouts are honoured and
// entries escaping the root are refused. It reports false, having done
// nothing, when a layer is not stored (an image recorded by config only).
func (p *Provider) unpackImage(root string, layers []string) (bool, error) {
	if len(layers) == 0 || !p.layers.HasAll(layers) {
		return false, nil
	}
	rfs, err := rootfs.New(root, nil)
	if err != nil {
		return false, err
	}
	defer rfs.Close()
	for _, d := range layers {
		r, err := p.layers.Open(d)
		if err != nil {
			return false, err
		}
		err = rootfs.ExtractLayer(rfs, r)
		r.Close()
		if err != nil {
			return false, fmt.Errorf("layer %s: %w", d, err)
		}
	}
	return true, nil
}

// AttachesBeforeStart implements providers.EarlyAttacher: a workload's
// agent is registered at Create.
func (p *Provider) AttachesBeforeStart() bool { return true }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "memory" }

// workload is one container: its filesystem, sandbox container, main
// process runs, kept output and attach sessions.
type workload struct {
	p          *Provider
	id         string
	spec       providers.Spec
	dir        string
	fs         *rootfs.FS
	ctr        *sandbox.Container
	mounts     []sandbox.MountEntry // the mount table mount shows
	unregister func()
	// created is when the root was ready: files modified later are the
	// container's writes (SizeRw).
	created time.Time
	// limits are the byte limits of the root and sized tmpfs mounts, by
	// mount point (see sizeLimits).
	limits map[string]int64

	// outMu serialises delivery of output to attach sessions, so a late
	// session's replay and the live output that follows it stay in order.
	outMu   sync.Mutex
	mu      sync.Mutex
	cur     *run
	next    chan struct{} // closed at the next start
	removed chan struct{}
	// log is the main process's output on disk (guarded by mu).
	log  *diskLog
	subs map[*subscriber]struct{}
	// execs are the running execs' processes by exec ID (guarded by mu).
	execs map[string]*sandbox.Proc
}

// run is one execution of the main process.
type run struct {
	proc     *sandbox.Proc
	started  time.Time
	logStart int           // log sequence number of the run's first output
	stdin    *bufpipe.Pipe // nil without OpenStdin
	done     chan struct{} // closed when the process ended and output is delivered
	reported chan struct{} // closed when the exit has been reported
	code     int
}

// subscriber is an attach session's output.
type subscriber struct {
	stdout, stderr io.Writer
	failed         bool
}

func (p *Provider) get(id string) (*workload, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.ws[id]
	if !ok {
		return nil, errdefs.NotFoundf("memory: no workload %s", id)
	}
	return w, nil
}

// volumeDir is where a named volume's data lives, shared by containers.
func (p *Provider) volumeDir(name string) string {
	return filepath.Join(p.opts.StateDir, "volumes", name)
}

// Create builds the container's root — the image's layers when they are
// stored, then the skeleton for whatever is missing (and /etc/hosts,
// /etc/hostname always) — with its mounts, and registers its agent.
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	dir := filepath.Join(p.opts.StateDir, "containers", s.ID)
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	unpacked, err := p.unpackImage(root, s.Layers)
	if err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, rootfs.ErrUnsafeEntry) {
			return errdefs.InvalidParameter(fmt.Errorf("memory: image %s: %w", s.Image, err))
		}
		return fmt.Errorf("memory: image %s: %w", s.Image, err)
	}
	var mounts []rootfs.Mount
	var table []sandbox.MountEntry
	specMounts := slices.Clone(s.Mounts)
	for _, dst := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		// --tmpfs PATH: an empty, writable directory private to the
		// container (kept on disk, not in memory).
		specMounts = append(specMounts, providers.Mount{Type: "tmpfs", Destination: dst, ReadOnly: slices.Contains(strings.Split(s.Tmpfs[dst], ","), "ro")})
	}
	for _, m := range specMounts {
		src := m.Source
		switch m.Type {
		case "volume":
			src = p.volumeDir(m.Source)
		case "tmpfs":
			src = tmpfsDir(dir, m.Destination)
		}
		if m.Type != "bind" {
			if err := os.MkdirAll(src, 0o755); err != nil {
				return fmt.Errorf("memory: mount %s: %w", m.Destination, err)
			}
			if m.Type == "volume" && unpacked && !m.NoCopy {
				if err := copyUp(root, m.Destination, src); err != nil {
					_ = os.RemoveAll(dir)
					return err
				}
			}
		} else if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			// Docker creates a missing bind source directory.
			if err := os.MkdirAll(src, 0o755); err != nil {
				return fmt.Errorf("memory: bind %s: %w", src, err)
			}
		}
		mounts = append(mounts, rootfs.Mount{Target: m.Destination, Source: src, ReadOnly: m.ReadOnly})
		table = append(table, mountEntry(m, src))
	}
	rfs, err := rootfs.New(root, mounts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return errdefs.InvalidParameter(fmt.Errorf("memory: %w", err))
	}
	if err := rootfs.Skeleton(rfs, rootfs.SkeletonOptions{Hostname: s.Hostname}); err != nil {
		_ = rfs.Close()
		_ = os.RemoveAll(dir)
		return fmt.Errorf("memory: %w", err)
	}
	if !unpacked {
		// No image content: the busybox layout of the sandbox's applets.
		if err := p.opts.Sandbox.InstallApplets(rfs); err != nil {
			_ = rfs.Close()
			_ = os.RemoveAll(dir)
			return fmt.Errorf("memory: %w", err)
		}
	}
	if s.WorkingDir != "" {
		// Docker creates a missing working directory.
		if err := rfs.MkdirAll(s.WorkingDir, 0o755); err != nil {
			_ = rfs.Close()
			_ = os.RemoveAll(dir)
			return errdefs.InvalidParameter(fmt.Errorf("memory: working directory %s: %w", s.WorkingDir, err))
		}
	}
	if !unpacked {
		if err := writeBase(dir, root); err != nil {
			_ = rfs.Close()
			_ = os.RemoveAll(dir)
			return err
		}
	}
	if s.ReadOnlyRootfs {
		rfs.SetReadOnlyRoot()
	}
	limits, err := sizeLimits(s)
	if err != nil {
		_ = rfs.Close()
		_ = os.RemoveAll(dir)
		return err
	}
	dlog, err := newDiskLog(filepath.Join(dir, "logs"), s.LogConfig)
	if err != nil {
		_ = rfs.Close()
		_ = os.RemoveAll(dir)
		return errdefs.InvalidParameter(fmt.Errorf("memory: log options: %w", err))
	}
	w := &workload{p: p, id: s.ID, spec: s, dir: dir, fs: rfs, ctr: p.opts.Sandbox.NewContainer(rfs), log: dlog, limits: limits,
		next: make(chan struct{}), removed: make(chan struct{}), subs: map[*subscriber]struct{}{}}
	w.ctr.SetLimits(p.limitsFor(s))
	rootOpts := "rw,relatime"
	if s.ReadOnlyRootfs {
		rootOpts = "ro,relatime"
	}
	w.mounts = append([]sandbox.MountEntry{{Source: "overlay", Target: "/", Type: "overlay", Options: rootOpts}}, table...)
	w.ctr.SetSetting(sandbox.Setting{Mounts: w.mounts, Interfaces: interfaces(s)})
	w.created = time.Now()
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

// Start runs the main process. Its exit is reported through the Reporter
// after every attach session has received all of its output.
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	w, err := p.get(s.ID)
	if err != nil {
		return err
	}
	w.ctr.Resume() // a container starts unpaused
	argv := append(append([]string{}, s.Entrypoint...), s.Cmd...)
	r := &run{done: make(chan struct{}), reported: make(chan struct{})}
	var stdin io.Reader
	if s.OpenStdin {
		r.stdin = bufpipe.New(agent.StdinBuffer)
		stdin = r.stdin
	}
	uid, gid, err := lookupUser(w.ctr.FS(), s.User)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	groups, err := supplementaryGroups(w.ctr.FS(), uid, gid, s.GroupAdd)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	// Networks may have changed since create.
	w.ctr.SetSetting(sandbox.Setting{Mounts: w.mounts, Interfaces: interfaces(s)})
	w.ctr.ClearOOMKilled()
	qs, err := w.quotas()
	if err != nil {
		return err
	}
	w.ctr.SetQuotas(qs)
	// Output of the run may arrive before Start returns; hold delivery
	// until the run is recorded so a late attach can find its beginning.
	w.outMu.Lock()
	proc, err := w.ctr.Start(context.Background(), sandbox.Process{
		Argv: argv, Env: s.Env, Dir: s.WorkingDir, Stdin: stdin, Tty: s.Tty,
		Stdout: w.output(1), Stderr: w.output(2), UID: uid, GID: gid, Groups: groups, Init: true,
	})
	if err != nil {
		w.outMu.Unlock()
		return errdefs.InvalidParameter(fmt.Errorf("memory: start: %w", err))
	}
	r.proc = proc
	w.mu.Lock()
	w.cur = r
	r.started = time.Now()
	r.logStart = w.log.next
	close(w.next)
	w.next = make(chan struct{})
	w.mu.Unlock()
	w.outMu.Unlock()
	if s.Healthcheck != nil {
		go w.probe(r, *s.Healthcheck)
	}
	go func() {
		code, _ := proc.Wait()
		r.code = code
		if r.stdin != nil {
			r.stdin.Close()
		}
		w.mu.Lock()
		_ = w.log.flush() // a last line without a newline
		w.mu.Unlock()
		close(r.done)
		if w.ctr.OOMKilled() {
			if oom, ok := p.opts.Reporter.(providers.OOMReporter); ok {
				_ = oom.OOMKilled(context.Background(), s.ID, time.Now())
			}
		}
		_ = p.opts.Reporter.Exited(context.Background(), s.ID, code, time.Now())
		close(r.reported)
	}()
	return nil
}

// output returns the writer for stream 1 or 2 of the main process: each
// write is kept in the logs and sent to every attach session.
func (w *workload) output(stream int) io.Writer { return &outputWriter{w: w, stream: stream} }

// outputWriter is one stream of the main process (a pointer, so the
// sandbox can tell stdout from stderr by comparison).
type outputWriter struct {
	w      *workload
	stream int
}

func (o *outputWriter) Write(b []byte) (int, error) {
	w, stream := o.w, o.stream
	data := b
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.mu.Lock()
	// A log that cannot be written (disk full) loses the output, as
	// Docker's does; the process is not held up.
	_ = w.log.write(stream, b, time.Now())
	subs := make([]*subscriber, 0, len(w.subs))
	for s := range w.subs {
		subs = append(subs, s)
	}
	w.mu.Unlock()
	for _, s := range subs {
		s.write(stream, data)
	}
	return len(b), nil
}

// write delivers data of stream 1 or 2; a session that failed once gets
// nothing more.
func (s *subscriber) write(stream int, data []byte) {
	out := s.stdout
	if stream == 2 {
		out = s.stderr
	}
	if out == nil || s.failed {
		return
	}
	if _, err := out.Write(data); err != nil {
		s.failed = true
	}
}

func (p *Provider) current(id string) (*run, error) {
	w, err := p.get(id)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, nil
}

// Stop sends SIGTERM, then SIGKILL after timeout, and returns once the
// exit has been reported.
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r, err := p.current(id)
	if err != nil || r == nil {
		return err
	}
	p.resume(id)
	if err := r.proc.Stop(timeout); err != nil {
		return err
	}
	<-r.reported
	return nil
}

// Resize records the size of the container's terminal (stty size).
func (p *Provider) Resize(ctx context.Context, id string, height, width uint) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	w.ctr.Resize(height, width)
	return nil
}

// mountEntry is m's line in the container's mount table: tmpfs as
// tmpfs, a bind or volume as the host filesystem holding src (Docker
// shows the host's device there, which the container has no business
// knowing).
func mountEntry(m providers.Mount, src string) sandbox.MountEntry {
	mode := "rw"
	if m.ReadOnly {
		mode = "ro"
	}
	if m.Type == "tmpfs" {
		return sandbox.MountEntry{Source: "tmpfs", Target: m.Destination, Type: "tmpfs", Options: mode + ",nosuid,nodev,noexec,relatime"}
	}
	t := fsType(src)
	return sandbox.MountEntry{Source: t, Target: m.Destination, Type: t, Options: mode + ",relatime"}
}

// interfaces are s's network endpoints as ip addr shows them: eth0,
// eth1... in network-name order.
func interfaces(s providers.Spec) []sandbox.Interface {
	var out []sandbox.Interface
	for i, n := range s.Interfaces {
		out = append(out, sandbox.Interface{Name: fmt.Sprintf("eth%d", i), MAC: n.MacAddress, Addr: fmt.Sprintf("%s/%d", n.IPAddress, n.PrefixLen)})
	}
	return out
}

// Kill sends signal to the main process.
func (p *Provider) Kill(ctx context.Context, id string, signal int) error {
	r, err := p.current(id)
	if err != nil || r == nil {
		return err
	}
	if err := r.proc.Signal(syscall.Signal(signal)); err != nil && !errors.Is(err, sandbox.ErrFinished) {
		return errdefs.InvalidParameter(fmt.Errorf("memory: kill: %w", err))
	}
	p.resume(id)
	if signal == int(syscall.SIGKILL) {
		<-r.reported
	}
	return nil
}

// Remove kills what still runs and deletes the container's root.
func (p *Provider) Remove(ctx context.Context, id string) error {
	p.mu.Lock()
	w, ok := p.ws[id]
	delete(p.ws, id)
	p.mu.Unlock()
	if !ok {
		return nil
	}
	w.unregister()
	close(w.removed)
	w.ctr.Signal(syscall.SIGKILL)
	w.mu.Lock()
	_ = w.log.close()
	w.mu.Unlock()
	_ = w.fs.Close()
	w.ctr.Release()
	return os.RemoveAll(w.dir)
}

// Logs returns kept output; cursors are entry sequence numbers.
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	w, err := p.get(id)
	if err != nil {
		return providers.LogPage{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.page(opts)
}

// gateWriter writes to w once open is closed.
type gateWriter struct {
	w    io.Writer
	open <-chan struct{}
}

func (g gateWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.w.Write(p)
}

// Exec runs p in the container to completion.
func (w *workload) Exec(ctx context.Context, g ticket.Grant, p ticket.Process, stdio agent.Stdio) (int, error) {
	uid, gid, err := lookupUser(w.ctr.FS(), p.User)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "OCI runtime exec failed: %v\n", err)
		return 126, nil
	}
	groups, err := supplementaryGroups(w.ctr.FS(), uid, gid, w.spec.GroupAdd)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "OCI runtime exec failed: %v\n", err)
		return 126, nil
	}
	// The process's output waits until its PID is registered: a client
	// that saw output inspects a running exec with its PID (on a loaded
	// machine the process could write before the registration below).
	registered := make(chan struct{})
	gate := func(w io.Writer) io.Writer {
		if w == nil {
			return nil
		}
		return gateWriter{w, registered}
	}
	stdout, stderr := gate(stdio.Stdout), gate(stdio.Stderr)
	proc, err := w.ctr.Start(ctx, sandbox.Process{
		Argv: p.Cmd, Env: p.Env, Dir: p.WorkingDir, Stdin: stdio.Stdin, Tty: p.Tty,
		Stdout: stdout, Stderr: stderr, UID: uid, GID: gid, Groups: groups,
	})
	if err != nil {
		close(registered)
		// Docker's answer for an exec that cannot start (bad workdir).
		fmt.Fprintf(stdio.Stderr, "OCI runtime exec failed: %v\n", err)
		return 126, nil
	}
	if g.ExecID == "" {
		close(registered)
	} else {
		w.mu.Lock()
		if w.execs == nil {
			w.execs = map[string]*sandbox.Proc{}
		}
		w.execs[g.ExecID] = proc
		w.mu.Unlock()
		close(registered)
		defer func() {
			w.mu.Lock()
			delete(w.execs, g.ExecID)
			w.mu.Unlock()
		}()
	}
	for {
		select {
		case <-proc.Done():
			return proc.Wait()
		case sig := <-stdio.Signal:
			_ = proc.Signal(syscall.Signal(sig))
		case <-stdio.Resize:
		}
	}
}

// Attach connects stdio to the current (or next) run of the main process
// and returns its exit code when it ends.
func (w *workload) Attach(ctx context.Context, g ticket.Grant, stdio agent.Stdio) (int, error) {
	sub := &subscriber{}
	if g.Stdout {
		sub.stdout = stdio.Stdout
	}
	if g.Stderr {
		sub.stderr = stdio.Stderr
	}
	w.outMu.Lock()
	w.mu.Lock()
	w.subs[sub] = struct{}{}
	r, next := w.cur, w.next
	// A run that started after the ticket was issued is one the client
	// attached to before starting: replay what it wrote before this
	// session arrived (the relay hop can lose the race with start).
	var replay []providers.LogEntry
	late := r != nil && g.Issued != 0 && r.started.UnixNano() >= g.Issued
	if late {
		_ = w.log.each(r.logStart, func(_ int, e providers.LogEntry) bool {
			replay = append(replay, e)
			return true
		})
		replay = append(replay, w.log.pending()...)
	}
	w.mu.Unlock()
	for _, e := range replay {
		sub.write(e.Stream, e.Data)
	}
	w.outMu.Unlock()
	stdio.Ready()
	defer func() {
		w.mu.Lock()
		delete(w.subs, sub)
		w.mu.Unlock()
	}()
	if !late && (r == nil || isClosed(r.done)) {
		select {
		case <-next:
		case <-w.removed:
			// Removed before it ran (an auto-remove container whose
			// start was refused): the attach ends without a word, as
			// Docker's does.
			return 0, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		w.mu.Lock()
		r = w.cur
		w.mu.Unlock()
	}
	if stdio.Stdin != nil && r.stdin != nil {
		go func() {
			_, _ = io.Copy(r.stdin, stdio.Stdin)
			if w.spec.StdinOnce {
				r.stdin.CloseWrite()
			}
		}()
	}
	select {
	case <-r.done:
		return r.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// StatPath describes a path in the container as Docker's archive HEAD
// does (rootfs.StatCopy: a final symlink is not followed unless the path
// ends in "/").
func (p *Provider) StatPath(ctx context.Context, id, pth string) (providers.PathStat, error) {
	w, err := p.get(id)
	if err != nil {
		return providers.PathStat{}, err
	}
	cs, err := statCopy(w.fs, id, pth)
	return copyPathStat(cs), err
}

// GetArchive returns a tar of pth, named by its base name as docker cp
// expects.
func (p *Provider) GetArchive(ctx context.Context, id, pth string) (io.ReadCloser, providers.PathStat, error) {
	w, err := p.get(id)
	if err != nil {
		return nil, providers.PathStat{}, err
	}
	cs, err := statCopy(w.fs, id, pth)
	if err != nil {
		return nil, providers.PathStat{}, err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := rootfs.WriteCopyTar(w.fs, tw, cs)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, copyPathStat(cs), nil
}

// PutArchive extracts tarball under the directory pth; entries climbing
// out of it are refused, and every write stays inside the root.
func (p *Provider) PutArchive(ctx context.Context, id, pth string, tarball io.Reader, noOverwriteDirNonDir bool) error {
	w, err := p.get(id)
	if err != nil {
		return err
	}
	fi, err := w.fs.Stat(pth)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFoundf("Could not find the file %s in container %s", pth, id)
		}
		return err
	}
	if !fi.IsDir() {
		return errdefs.InvalidParameterf("extraction point is not a directory")
	}
	if err := rootfs.ExtractTar(w.fs, pth, tarball, rootfs.ExtractOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir}); err != nil {
		if errors.Is(err, rootfs.ErrUnsafeEntry) {
			return errdefs.InvalidParameter(err)
		}
		return err
	}
	return nil
}

// Top lists the container's running commands.
func (p *Provider) Top(ctx context.Context, id string) ([]providers.Process, error) {
	w, err := p.get(id)
	if err != nil {
		return nil, err
	}
	var out []providers.Process
	for _, pi := range w.ctr.Processes() {
		out = append(out, providers.Process{PID: pi.PID, PPID: pi.PPID, User: userName(w.fs, pi.UID), Started: pi.Started, Command: strings.Join(pi.Argv, " ")})
	}
	return out, nil
}

// MainPID implements providers.PIDReporter: the main process's PID in
// the container's process table, the one Top lists (1).
func (p *Provider) MainPID(ctx context.Context, id string) (int, bool) {
	w, err := p.get(id)
	if err != nil {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == nil || w.cur.proc == nil || isClosed(w.cur.done) {
		return 0, false
	}
	return w.cur.proc.PID(), true
}

// ExecPID implements providers.PIDReporter: a running exec's PID in the
// container's process table.
func (p *Provider) ExecPID(ctx context.Context, id, execID string) (int, bool) {
	w, err := p.get(id)
	if err != nil {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if pr, ok := w.execs[execID]; ok && !isClosed(pr.Done()) {
		return pr.PID(), true
	}
	return 0, false
}

// Stats samples the container's counters.
func (p *Provider) Stats(ctx context.Context, id string) (providers.Stats, error) {
	w, err := p.get(id)
	if err != nil {
		return providers.Stats{}, err
	}
	s := w.ctr.Stats()
	return providers.Stats{Read: time.Now(), CPUNanos: uint64(s.CPUNanos), SystemCPUNanos: systemCPUNanos(), OnlineCPUs: uint32(runtime.NumCPU()),
		MemoryBytes: uint64(w.ctr.MemoryBytes()), MemoryLimit: uint64(w.ctr.Limits().MemoryBytes), PIDs: uint64(s.PIDs),
		ThrottlePeriods: uint64(s.Throttle.Periods), ThrottledPeriods: uint64(s.Throttle.ThrottledPeriods), ThrottledNanos: uint64(s.Throttle.ThrottledNanos)}, nil
}

// systemCPUNanos is the host's CPU time since boot, all CPUs, from the
// first line of /proc/stat (in USER_HZ ticks of 10 ms), as dockerd reads
// it; 0 where there is no /proc/stat.
func systemCPUNanos() uint64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, _ := strconv.ParseUint(v, 10, 64)
		ticks += n
	}
	return ticks * uint64(time.Second/100)
}

// Size implements providers.Sizer: the regular files of the container's
// root (not its mounts), and of those the ones written since Create.
func (p *Provider) Size(ctx context.Context, id string) (rw, total int64, err error) {
	w, err := p.get(id)
	if err != nil {
		return 0, 0, err
	}
	err = filepath.WalkDir(filepath.Join(w.dir, "root"), func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		total += fi.Size()
		if fi.ModTime().After(w.created) {
			rw += fi.Size()
		}
		return ctx.Err()
	})
	return rw, total, err
}

// probe runs the container's health check while run r lives, as Docker
// does: each probe one interval after the previous (StartInterval during
// the start period until a probe passes), bounded by the timeout, the
// result reported to the control plane.
func (w *workload) probe(r *run, hc providers.Healthcheck) {
	var argv []string
	switch {
	case len(hc.Test) > 1 && hc.Test[0] == "CMD":
		argv = hc.Test[1:]
	case len(hc.Test) > 1 && hc.Test[0] == "CMD-SHELL":
		argv = []string{"/bin/sh", "-c", hc.Test[1]}
	default:
		return
	}
	started := time.Now()
	passed := false
	for {
		timer := time.NewTimer(healthInterval(hc, time.Since(started), passed))
		select {
		case <-r.done:
			timer.Stop()
			return
		case <-timer.C:
		}
		res := w.runProbe(argv, hc)
		passed = passed || res.ExitCode == 0
		_ = w.p.opts.Reporter.Health(context.Background(), w.id, res)
	}
}

// limitedBuffer keeps the first 4 KiB of a probe's output, as Docker does.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) WriteString(s string) { _, _ = l.Write([]byte(s)) }

func (l *limitedBuffer) String() string { return string(l.b) }

// Exists implements providers.Inspector: whether this process holds a
// workload for container id (none survive a restart of the process).
func (p *Provider) Exists(ctx context.Context, id string) (bool, error) {
	_, err := p.get(id)
	return err == nil, nil
}
