package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"reflect"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// DefaultPath is the PATH a process gets when its environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Container is one container's filesystem and process table. Processes of
// the same container share its filesystem; Container is safe for
// concurrent use.
type Container struct {
	sb *Sandbox
	fs *rootfs.FS
	// label is the profiler label of the container's goroutines.
	label string

	mu      sync.Mutex
	nextPID int
	tasks   map[int]*task
	procs   map[*Proc]struct{}

	cpuNanos          atomic.Int64 // wall time of finished applet runs
	bytesIn, bytesOut atomic.Int64

	limits Limits
	// wasmMem is the linear memory of the container's running instances
	// and shellMem what its shells' variables hold: together what the
	// container takes from the daemon's heap, held under limits.MemoryBytes.
	wasmMem, shellMem atomic.Int64
	// files counts host files the container's processes hold open.
	files atomic.Int64
	// quotas bound the bytes under the container's sized mounts (nil:
	// none); see SetQuotas.
	quotas atomic.Pointer[[]*quota]
	// pipes are the host pipes the container's shells were seen using
	// (pipeline stages and their standard streams), kept until found
	// closed: the interpreter makes them itself, so they are counted
	// where its commands run (see shellHandlers.call).
	pipesMu   sync.Mutex
	pipes     map[*os.File]struct{}
	oomKilled atomic.Bool

	// setting is what mount and ip show; ttyRows and ttyCols the
	// terminal's size (stty size).
	setting          atomic.Pointer[Setting]
	ttyRows, ttyCols atomic.Uint32

	// pause stops the processes while the container is paused.
	pause pauseGate

	// cpu is the container's cpu cgroup when it has a CPU limit.
	cpu atomic.Pointer[cpuGroup]
}

// Setting is what the container's applets show of the world around it
// that the sandbox itself does not make: its mounts (mount) and network
// interfaces (ip addr), as the provider knows them.
type Setting struct {
	Mounts     []MountEntry
	Interfaces []Interface
}

// MountEntry is one line of the mount table, as /proc/mounts has it.
type MountEntry struct {
	Source, Target, Type, Options string
}

// Interface is one network interface of the container besides lo.
type Interface struct {
	Name string // eth0...
	MAC  string
	// Addr is the address with its prefix length (172.17.0.2/16).
	Addr string
}

// SetSetting records the container's mounts and interfaces.
func (c *Container) SetSetting(s Setting) { c.setting.Store(&s) }

// Resize records the size of the container's terminal.
func (c *Container) Resize(rows, cols uint) {
	c.ttyRows.Store(uint32(rows))
	c.ttyCols.Store(uint32(cols))
}

// Limits caps what one container may take from the daemon. Zero fields
// are unlimited.
type Limits struct {
	// MemoryBytes bounds the linear memory of the container's WebAssembly
	// instances plus the variables of its shells. Past it the container
	// is killed as the kernel's OOM killer does (every process ends with
	// 137) and [Container.OOMKilled] reports true.
	MemoryBytes int64
	// PIDs bounds the commands (shells, applets, WASI programs) alive at
	// once; a command past it fails to start, as fork does with EAGAIN.
	PIDs int
	// NoFile bounds the files the container's processes hold open at
	// once; an open past it fails with EMFILE.
	NoFile int
	// NanoCPUs bounds the CPU time of the container's code to this many
	// billionths of a CPU (--cpus), as the kernel's CFS quota does for a
	// Docker container: applied where [Sandbox.CPULimits] says so.
	NanoCPUs int64
}

// SetLimits sets the container's limits; call it before starting
// processes.
func (c *Container) SetLimits(l Limits) {
	c.mu.Lock()
	c.limits = l
	c.mu.Unlock()
	if c.sb.cpu == nil {
		return
	}
	if l.NanoCPUs <= 0 {
		if old := c.cpu.Swap(nil); old != nil {
			old.release()
		}
		return
	}
	if old := c.cpu.Load(); old != nil && old.nanoCPUs == l.NanoCPUs {
		return
	}
	if old := c.cpu.Swap(c.sb.cpu.newGroup(c.label, l.NanoCPUs)); old != nil {
		old.release()
	}
}

// joinCPU puts the calling goroutine's thread under the container's CPU
// limit, if it has one (see cpuGroup.join).
func (c *Container) joinCPU() error {
	if cg := c.cpu.Load(); cg != nil {
		return cg.join()
	}
	return nil
}

// Release gives back what the container holds outside its processes
// (its cpu cgroup); call it when the container is removed.
func (c *Container) Release() {
	if cg := c.cpu.Load(); cg != nil {
		cg.release()
	}
}

// Limits returns the container's limits.
func (c *Container) Limits() Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

// OOMKilled reports whether the container was killed for exceeding its
// memory limit since the last ClearOOMKilled.
func (c *Container) OOMKilled() bool { return c.oomKilled.Load() }

// ClearOOMKilled forgets an earlier OOM kill, for a container's next run.
func (c *Container) ClearOOMKilled() { c.oomKilled.Store(false) }

// memoryLimit is limits.MemoryBytes, read without the lock on hot paths
// (it is set before any process starts).
func (c *Container) memoryLimit() int64 { return c.limits.MemoryBytes }

// chargeMemory accounts delta more bytes to the container in *counter
// (negative releases them) and reports false, having charged nothing,
// when that would pass the memory limit.
func (c *Container) chargeMemory(counter *atomic.Int64, delta int64) bool {
	if delta <= 0 {
		counter.Add(delta)
		return true
	}
	lim := c.memoryLimit()
	if lim > 0 && c.wasmMem.Load()+c.shellMem.Load()+delta > lim {
		return false
	}
	counter.Add(delta)
	return true
}

// MemoryBytes is what the container's processes hold: linear memories
// and shell variables.
func (c *Container) MemoryBytes() int64 { return c.wasmMem.Load() + c.shellMem.Load() }

// oomKill ends every process of the container with SIGKILL and marks it
// OOM-killed, as the kernel does when a cgroup passes memory.max.
func (c *Container) oomKill() {
	c.oomKilled.Store(true)
	c.Signal(syscall.SIGKILL)
}

// notePipe records that a shell command runs with f as a standard
// stream and reports false when the container's live pipes already fill
// its open-file limit: the command then fails, which ends the pipeline
// stage (a fork bomb of shell functions, `f(){ f | f & }; f`, starves
// itself instead of the daemon).
func (c *Container) notePipe(f *os.File) bool {
	lim := c.limits.NoFile
	if lim <= 0 || f == nil {
		return true
	}
	c.pipesMu.Lock()
	defer c.pipesMu.Unlock()
	if _, ok := c.pipes[f]; ok {
		return true
	}
	if c.pipes == nil {
		c.pipes = map[*os.File]struct{}{}
	}
	if len(c.pipes)+int(c.files.Load()) >= lim {
		for p := range c.pipes {
			if _, err := p.Stat(); err != nil { // closed
				delete(c.pipes, p)
			}
		}
		if len(c.pipes)+int(c.files.Load()) >= lim {
			return false
		}
	}
	c.pipes[f] = struct{}{}
	return true
}

// openFile accounts one more open file, or reports false past the limit.
func (c *Container) openFile() bool {
	n := c.files.Add(1)
	if lim := c.limits.NoFile; lim > 0 && n > int64(lim) {
		c.files.Add(-1)
		return false
	}
	return true
}

func (c *Container) closeFile() { c.files.Add(-1) }

// OpenFiles is how many host files the container's processes hold open.
func (c *Container) OpenFiles() int { return int(c.files.Load()) }

// errNoPIDs is what starting a command past the PIDs limit reports.
var errNoPIDs = errors.New("can't fork: Resource temporarily unavailable")

// NewContainer makes a container over fs. The caller keeps ownership of
// fs and closes it after the container's processes ended.
func (s *Sandbox) NewContainer(fs *rootfs.FS) *Container {
	return &Container{sb: s, fs: fs, nextPID: 1, tasks: map[int]*task{}, procs: map[*Proc]struct{}{},
		label: strconv.FormatInt(s.containers.Add(1), 10)}
}

// FS is the container's filesystem.
func (c *Container) FS() *rootfs.FS { return c.fs }

// Process is what to run: the argument vector exactly as given (never
// re-joined and re-parsed), environment, working directory, standard
// streams and TTY mode.
type Process struct {
	Argv []string
	// Env is "KEY=value" entries. PATH defaults to [DefaultPath] and HOME
	// to the user's home folder in /etc/passwd ("/" without an entry)
	// when absent.
	Env []string
	// Dir is the working directory inside the container; "" means "/".
	Dir string
	// Stdin may be nil (empty input). Stdout and Stderr may be nil
	// (discarded).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Tty merges stderr into stdout and translates "\n" to "\r\n" on
	// output, as a terminal's line discipline does.
	Tty bool
	// UID and GID are the user the process runs as (reported by id,
	// whoami, ls -l's mapping); files are still created by the host user.
	UID, GID int
	// Groups are the supplementary groups (id, groups).
	Groups []int
	// Init marks the container's main process, PID 1 of its PID
	// namespace: as there, a signal it has no handler for (no shell
	// trap) is ignored, SIGKILL excepted, so docker stop kills it after
	// the timeout (137).
	Init bool
}

// ProcessInfo is one row of the container's process list.
type ProcessInfo struct {
	PID, PPID int
	// UID is the user the process runs as.
	UID     int
	Argv    []string
	Started time.Time
}

// Stats is a sample of a container's resource counters.
type Stats struct {
	// CPUNanos approximates CPU time: the wall time applets ran.
	CPUNanos int64
	// MemoryBytes is the linear memory of the running WebAssembly
	// instances.
	MemoryBytes uint64
	// PIDs counts running commands (shells and applets).
	PIDs int
	// BytesIn and BytesOut count standard input read and output written
	// by top-level processes.
	BytesIn, BytesOut int64
	// Throttle is what the CPU limit did (zero without one).
	Throttle Throttling
}

// Throttling is the kernel's account of a CPU limit (the cgroup's
// cpu.stat): CFS periods in which the container ran, those in which it
// used its quota up and was stopped, and the time it spent stopped.
type Throttling struct {
	Periods, ThrottledPeriods int64
	ThrottledNanos            int64
}

// task is a running command in the process table.
type task struct {
	info ProcessInfo
	mod  atomic.Pointer[api.Module]
	// mem is the instance's memory size, sampled on the instance's own
	// goroutine (wazero's Memory.Size races with Grow elsewhere).
	mem atomic.Uint64
	// shellMem is what a shell's variables hold, charged to the
	// container's memory.
	shellMem atomic.Int64
}

// isNilMemory reports whether mem is a typed nil: wazero returns its
// *MemoryInstance as an api.Memory even for a module that declares no
// memory (a 36-byte module did that and crashed the daemon).
func isNilMemory(mem api.Memory) bool {
	v := reflect.ValueOf(mem)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// sampleMem records the instance's memory size; call it only from the
// goroutine running the instance.
func (t *task) sampleMem() {
	if m := t.mod.Load(); m != nil && *m != nil {
		if mem := (*m).Memory(); mem != nil && !isNilMemory(mem) {
			t.mem.Store(uint64(mem.Size()))
		}
	}
}

// sampleWriter samples a task's memory whenever the instance writes.
type sampleWriter struct {
	w io.Writer
	t *task
}

func (s sampleWriter) Write(p []byte) (int, error) {
	s.t.sampleMem()
	return s.w.Write(p)
}

// Processes lists the running commands, by PID.
func (c *Container) Processes() []ProcessInfo {
	c.mu.Lock()
	out := make([]ProcessInfo, 0, len(c.tasks))
	for _, t := range c.tasks {
		out = append(out, t.info)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b ProcessInfo) int { return a.PID - b.PID })
	return out
}

// Stats samples the container's counters.
func (c *Container) Stats() Stats {
	st := Stats{CPUNanos: c.cpuNanos.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load()}
	now := time.Now()
	c.mu.Lock()
	for _, t := range c.tasks {
		st.PIDs++
		if t.mod.Load() != nil {
			st.MemoryBytes += t.mem.Load()
			st.CPUNanos += int64(now.Sub(t.info.Started))
		}
	}
	c.mu.Unlock()
	if cg := c.cpu.Load(); cg != nil {
		if s := cg.stat(); s != nil {
			st.Throttle = Throttling{Periods: s["nr_periods"], ThrottledPeriods: s["nr_throttled"], ThrottledNanos: s["throttled_time"]}
		}
	}
	return st
}

// Signal sends sig to every process of the container.
func (c *Container) Signal(sig syscall.Signal) {
	c.mu.Lock()
	procs := make([]*Proc, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		_ = p.Signal(sig)
	}
}

// addTask enters inv's command in the process table, under the PID
// Start reserved for a top-level process, else a new one.
func (c *Container) addTask(inv *invocation) (*task, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lim := c.limits.PIDs; lim > 0 && len(c.tasks) >= lim {
		return nil, errNoPIDs
	}
	pid := inv.pid
	if pid == 0 {
		pid = c.nextPID
		c.nextPID++
	}
	inv.pid = 0
	t := &task{info: ProcessInfo{PID: pid, PPID: inv.ppid, UID: inv.uid, Argv: slices.Clone(inv.argv), Started: time.Now()}}
	c.tasks[t.info.PID] = t
	return t, nil
}

func (c *Container) endTask(t *task) {
	c.mu.Lock()
	delete(c.tasks, t.info.PID)
	c.mu.Unlock()
	if n := t.shellMem.Swap(0); n != 0 {
		c.shellMem.Add(-n)
	}
}

// guard runs f for inv, turning a panic into exit status 134 (SIGABRT)
// with a message on the command's stderr: whatever a guest provokes in
// the host code that serves it ends that command only.
func guard(inv *invocation, f func() int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			inv.errf("sh: %s: aborted: %v\n", inv.argv[0], r)
			code = 128 + int(syscall.SIGABRT)
		}
	}()
	return f()
}

// Proc is a started process.
type Proc struct {
	c      *Container
	pid    int
	cancel context.CancelCauseFunc
	done   chan struct{}
	code   int
	err    error
	sig    *sigState
}

// signalError is the cancel cause when a process is signalled.
type signalError syscall.Signal

func (s signalError) Error() string { return "signal: " + syscall.Signal(s).String() }

// ErrUnsupportedSignal is returned for signals the sandbox cannot deliver
// (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
var ErrUnsupportedSignal = errors.New("sandbox: unsupported signal")

// ErrFinished is returned when signalling a process that already exited.
var ErrFinished = errors.New("sandbox: process already finished")

// Start runs p in the container. The process runs until it exits, is
// signalled, or ctx is cancelled (which kills it like SIGKILL).
func (c *Container) Start(ctx context.Context, p Process) (*Proc, error) {
	if len(p.Argv) == 0 || p.Argv[0] == "" {
		return nil, errors.New("sandbox: empty argv")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	pr := &Proc{c: c, cancel: cancel, done: make(chan struct{}), sig: &sigState{init: p.Init}}
	inv := &invocation{
		c:      c,
		ctx:    ctx,
		sig:    pr.sig,
		argv:   slices.Clone(p.Argv),
		env:    withDefaults(p.Env, c.homeOf(p.UID)),
		dir:    path.Clean("/" + p.Dir),
		uid:    p.UID,
		gid:    p.GID,
		groups: slices.Clone(p.Groups),
	}
	if fi, err := c.fs.Stat(inv.dir); err != nil || !fi.IsDir() {
		cancel(nil)
		return nil, fmt.Errorf("sandbox: working directory %s: %w", inv.dir, errors.Join(err, errNotDir(fi)))
	}
	out := p.Stdout
	if out == nil {
		out = io.Discard
	}
	errw := p.Stderr
	if errw == nil {
		errw = io.Discard
	}
	if p.Tty {
		w := &onlcrWriter{w: out}
		out, errw = w, w
	}
	inv.stdout = &countWriter{w: out, n: &c.bytesOut}
	inv.stderr = &countWriter{w: errw, n: &c.bytesOut}
	if errw == out {
		inv.stderr = inv.stdout
	}
	if p.Stdin != nil {
		inv.stdin = &countReader{r: newCtxReader(ctx, p.Stdin), n: &c.bytesIn}
	}
	inv.tty = p.Tty
	if p.Tty {
		if inv.stdin == nil {
			// docker run -t without -i: stdin is still the terminal,
			// one nobody types into.
			inv.stdin = eofReader{}
		}
		inv.ttyIn, inv.ttyOut = inv.stdin, inv.stdout
	}
	c.mu.Lock()
	pr.pid = c.nextPID
	c.nextPID++
	inv.pid = pr.pid
	c.procs[pr] = struct{}{}
	c.mu.Unlock()
	// A closing sandbox kills its processes (see Sandbox.Close).
	unwatch := context.AfterFunc(c.sb.closing, func() { cancel(signalError(syscall.SIGKILL)) })
	go func() {
		defer unwatch()
		// Every goroutine this process starts (subshells, background
		// jobs, pipeline stages) inherits the label: see census.go.
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels(labelContainer, c.label)))
		cg := c.cpu.Load()
		var code int
		if err := c.joinCPU(); err != nil {
			inv.errf("sh: %s: %v\n", inv.argv[0], err)
			code = 2
		} else {
			code = guard(inv, func() int { return c.dispatch(ctx, inv) })
		}
		if cg != nil {
			cg.leave()
		}
		if cause := context.Cause(ctx); cause != nil {
			var sig signalError
			switch {
			case errors.As(cause, &sig):
				code = 128 + int(sig)
			case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
				code = 128 + int(syscall.SIGKILL)
			}
		}
		pr.code = code
		cancel(nil)
		c.mu.Lock()
		delete(c.procs, pr)
		last := len(c.procs) == 0
		c.mu.Unlock()
		if last && cg != nil {
			cg.release() // if the goroutines of its shells have ended
		}
		if last && c.oomKilled.Load() {
			// What the killed container held is garbage now; hand it
			// back to the OS rather than wait for the scavenger.
			go debug.FreeOSMemory()
		}
		close(pr.done)
	}()
	return pr, nil
}

func errNotDir(fi fs.FileInfo) error {
	if fi != nil && !fi.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}

// Run starts p and waits for it.
func (c *Container) Run(ctx context.Context, p Process) (int, error) {
	pr, err := c.Start(ctx, p)
	if err != nil {
		return -1, err
	}
	return pr.Wait()
}

// PID is the process's id in the container's process table.
func (p *Proc) PID() int { return p.pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait blocks until the process exits and returns its exit code: the
// command's status, 127 for a command not found, 126 for one that cannot
// be executed, 128+n when ended by signal n.
func (p *Proc) Wait() (int, error) {
	<-p.done
	return p.code, p.err
}

// Signal delivers sig. Signals whose default action is to ignore
// (SIGCHLD, SIGWINCH, SIGURG, SIGCONT) do nothing; stop signals are not
// supported; every other signal ends the process with status 128+sig.
// The shell's `trap` handlers for signals are not run.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return ErrFinished
	default:
	}
	switch sig {
	case 0, syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGCONT:
		return nil
	case syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
		return ErrUnsupportedSignal
	}
	if sig != syscall.SIGKILL {
		if p.sig.deliver(sig) || p.sig.init {
			// A trap takes it (or ignores it), or PID 1 has no handler.
			return nil
		}
	}
	p.cancel(signalError(sig))
	return nil
}

// Kill ends the process with SIGKILL.
func (p *Proc) Kill() error { return p.Signal(syscall.SIGKILL) }

// Stop sends SIGTERM and, if the process is still running after timeout,
// SIGKILL; it returns when the process has exited.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, ErrFinished) {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Kill()
		<-p.done
	}
	return nil
}

// homeOf is uid's home folder in the container's /etc/passwd, as runc
// gives HOME to a process whose environment sets none: "/" for a uid
// without an entry.
func (c *Container) homeOf(uid int) string {
	data, err := c.fs.ReadFile("/etc/passwd")
	if err != nil {
		return "/"
	}
	want := strconv.Itoa(uid)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[2] == want && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}

func withDefaults(env []string, home string) []string {
	out := slices.Clone(env)
	has := func(k string) bool {
		for _, kv := range out {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH="+DefaultPath)
	}
	if !has("HOME") {
		out = append(out, "HOME="+home)
	}
	return out
}

// invocation is one command being run: its argv, environment and streams.
type invocation struct {
	c      *Container
	ctx    context.Context
	ppid   int
	argv   []string
	env    []string
	dir    string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tty    bool
	// ttyIn and ttyOut are the terminal's input and output (docker run
	// -t): a command whose stdin or stdout is exactly these is on the
	// terminal (tty, test -t).
	ttyIn  io.Reader
	ttyOut io.Writer
	uid    int
	gid    int
	groups []int
	depth  int
	pid    int             // PID reserved by Start for the top-level command
	sig    *sigState       // signal dispositions of the process Start made
	fifos  map[string]bool // host FIFOs of process substitutions this command may open
	// noSpace records that a write of this WebAssembly instance failed
	// for a size limit (WASI has no ENOSPC; the guest sees EIO and asks
	// why through sockerless.info). Touched on the instance's goroutine only.
	noSpace bool
}

// child derives an invocation for a command started by inv.
func (inv *invocation) child() *invocation {
	c := *inv
	c.depth++
	return &c
}

// isatty reports whether file descriptor fd is the terminal.
func (inv *invocation) isatty(fd int) bool {
	switch fd {
	case 0:
		return inv.ttyIn != nil && inv.stdin == inv.ttyIn
	case 1:
		return inv.ttyOut != nil && inv.stdout == inv.ttyOut
	case 2:
		return inv.ttyOut != nil && inv.stderr == inv.ttyOut
	}
	return false
}

func (inv *invocation) getenv(k string) string {
	for i := len(inv.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(inv.env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

func (inv *invocation) errf(format string, a ...any) {
	fmt.Fprintf(inv.stderr, format, a...)
}

// maxDepth bounds nested commands (scripts calling scripts, env env env).
const maxDepth = 64

// stdBinDirs are where a path to an applet name is taken to mean the
// applet, whether or not (or whatever) the file there is — busybox style.
func stdBinDir(dir string) bool {
	switch dir {
	case "/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin":
		return true
	}
	return false
}

// dispatch runs the command inv.argv and returns its exit status.
func (c *Container) dispatch(ctx context.Context, inv *invocation) int {
	if ctx.Err() != nil {
		return 128 + int(syscall.SIGKILL)
	}
	if inv.depth > maxDepth {
		inv.errf("sh: %s: too many levels of nested commands\n", inv.argv[0])
		return 126
	}
	name := inv.argv[0]
	base := path.Base(name)
	if !strings.Contains(name, "/") {
		if isShell(name) || c.sb.isApplet(name) {
			// A file of that name in a PATH directory before the
			// standard ones runs instead, as in a real shell.
			if p, ok := c.lookPathBefore(inv, name); ok {
				return c.runFile(ctx, inv, p)
			}
			if isShell(name) {
				return c.runShell(ctx, inv)
			}
			return c.runModule(ctx, inv, c.sb.applets)
		}
		p, ok := c.lookPath(inv, name)
		if !ok {
			inv.errf("sh: %s: not found\n", name)
			return 127
		}
		return c.runFile(ctx, inv, p)
	}
	abs := rootfs.Abs(inv.dir, name)
	if stdBinDir(path.Dir(abs)) {
		switch {
		case isShell(base):
			return c.runShell(ctx, inv)
		case c.sb.isApplet(base):
			return c.runModule(ctx, inv, c.sb.applets)
		}
	}
	return c.runFile(ctx, inv, abs)
}

// lookPath searches PATH inside the container for an executable file.
func (c *Container) lookPath(inv *invocation, name string) (string, bool) {
	for _, dir := range strings.Split(inv.getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := rootfs.Abs(inv.dir, path.Join(dir, name))
		fi, err := c.fs.Stat(p)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// lookPathBefore searches the PATH directories that come before the
// first standard binary directory (where an applet or shell name means
// the applet, rule 4 of dispatch) for an executable file. With the
// default PATH, which starts with a standard directory, it looks at
// nothing, so applets cost no extra lookups.
func (c *Container) lookPathBefore(inv *invocation, name string) (string, bool) {
	for dir := range strings.SplitSeq(inv.getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		d := rootfs.Abs(inv.dir, dir)
		if stdBinDir(d) {
			return "", false
		}
		p := path.Join(d, name)
		fi, err := c.fs.Stat(p)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// runFile executes the file at abs: a WASI binary, a script with a
// shebang, or a text file (run by sh, as POSIX shells do on ENOEXEC).
func (c *Container) runFile(ctx context.Context, inv *invocation, abs string) int {
	name := inv.argv[0]
	fi, err := c.fs.Stat(abs)
	if err != nil {
		inv.errf("sh: %s: not found\n", name)
		return 127
	}
	if fi.IsDir() {
		inv.errf("sh: %s: Is a directory\n", name)
		return 126
	}
	if fi.Mode()&0o111 == 0 {
		inv.errf("sh: %s: Permission denied\n", name)
		return 126
	}
	f, err := c.fs.Open(abs)
	if err != nil {
		inv.errf("sh: %s: Permission denied\n", name)
		return 126
	}
	head := readHead(f, 256)
	f.Close()
	base := path.Base(abs)
	switch {
	case len(head) >= 4 && string(head[:4]) == "\x00asm":
		code, err := c.fs.ReadFile(abs)
		if err != nil {
			inv.errf("sh: %s: %v\n", name, err)
			return 126
		}
		mod, err := c.sb.compileBinary(ctx, code)
		if err != nil {
			inv.errf("sh: %s: cannot execute: %v\n", name, err)
			return 126
		}
		if _, ok := mod.ExportedMemories()["memory"]; !ok {
			// WASI requires a command to export its memory: without one
			// it can pass no argument, read no file, write no output.
			inv.errf("sh: %s: cannot execute: not a WASI command (exports no memory)\n", name)
			return 126
		}
		return c.runModule(ctx, inv, mod)
	case len(head) >= 2 && head[0] == '#' && head[1] == '!':
		line := string(head[2:])
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		interp, arg, _ := strings.Cut(line, " ")
		arg = strings.TrimSpace(arg)
		if interp == "" {
			child := inv.child()
			child.argv = append([]string{"sh", abs}, inv.argv[1:]...)
			return c.runShell(ctx, child)
		}
		argv := []string{interp}
		if arg != "" {
			argv = append(argv, arg)
		}
		child := inv.child()
		child.argv = append(append(argv, abs), inv.argv[1:]...)
		return c.dispatch(ctx, child)
	case len(head) >= 4 && string(head[:4]) == "\x7fELF":
		if c.sb.isApplet(base) || isShell(base) {
			child := inv.child()
			child.argv = append([]string{base}, inv.argv[1:]...)
			return c.dispatch(ctx, child)
		}
		inv.errf("sh: %s: cannot execute binary file: Exec format error\n", name)
		return 126
	}
	child := inv.child()
	child.argv = append([]string{"sh", abs}, inv.argv[1:]...)
	return c.runShell(ctx, child)
}

// runModule instantiates a compiled WASI module for one command.
func (c *Container) runModule(ctx context.Context, inv *invocation, mod wazero.CompiledModule) int {
	return guard(inv, func() int { return c.runModule1(ctx, inv, mod) })
}

func (c *Container) runModule1(ctx context.Context, inv *invocation, mod wazero.CompiledModule) int {
	t, err := c.addTask(inv)
	if err != nil {
		inv.errf("sh: %v\n", err)
		return 2
	}
	defer c.endTask(t)
	c.sb.instanceStarted()
	defer c.sb.instanceEnded()
	start := time.Now()
	defer func() { c.cpuNanos.Add(int64(time.Since(start))) }()

	stdin := inv.stdin
	if stdin == nil {
		stdin = eofReader{}
	}
	ctx = context.WithValue(ctx, invKey{}, inv)
	ctx = context.WithValue(ctx, hashKey{}, &hashTable{})
	env := inv.env
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithArgs(inv.argv...).
		WithStdin(gatedReader{ctx, c, stdin}).
		WithStdout(gatedWriter{ctx, c, sampleWriter{noSpaceWriter{inv.stdout, inv}, t}}).
		WithStderr(gatedWriter{ctx, c, sampleWriter{noSpaceWriter{inv.stderr, inv}, t}}).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(randReader{}).
		WithNanosleep(func(ns int64) {
			t.sampleMem()
			tm := time.NewTimer(time.Duration(ns))
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
			}
			_ = c.gate(ctx) // a kill while paused ends the instance after the sleep
		}).
		WithFSConfig(newFSConfig(&wasiFS{fs: c.fs, inv: inv}))
	hasPWD := false
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if k == "PWD" {
			v, hasPWD = inv.dir, true
		}
		cfg = cfg.WithEnv(k, v)
	}
	if !hasPWD {
		// Go's wasip1 runtime takes its working directory from $PWD.
		cfg = cfg.WithEnv("PWD", inv.dir)
	}
	var mem *sliceMemory
	m, err := c.sb.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, c.sb.mem.allocator(c, &mem)), mod, cfg)
	if err != nil {
		mem.recycle()
		if code, ok := exitCode(err); ok {
			return code
		}
		inv.errf("sh: %s: %v\n", inv.argv[0], err)
		return 126
	}
	defer func() {
		_ = m.Close(context.WithoutCancel(ctx))
		mem.recycle() // the call has returned: no guest code runs on it
	}()
	t.mod.Store(&m)
	t.sampleMem()
	startFn := m.ExportedFunction("_start")
	if startFn == nil {
		inv.errf("sh: %s: not a WASI command\n", inv.argv[0])
		return 126
	}
	_, err = startFn.Call(ctx)
	if err == nil {
		return 0
	}
	if code, ok := exitCode(err); ok {
		return code
	}
	if ctx.Err() != nil {
		return 128 + int(syscall.SIGKILL)
	}
	inv.errf("sh: %s: %v\n", inv.argv[0], err)
	return 134
}
