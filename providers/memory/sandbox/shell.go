package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// The shell runs on the host, not in WebAssembly: mvdan.cc/sh's
// interpreter needs os.Pipe for pipelines, which wasip1 lacks. Every way
// the interpreter touches files goes through a handler below that
// resolves the path inside the container (package rootfs); every simple
// command that is not a shell builtin goes to dispatch. The interpreter
// itself reaches the host filesystem in two places, both closed off here:
//
//   - `command -v`, `type` and `source NAME` look names up with os.Stat
//     on PATH. A call handler rewrites `command -v`/`-V` and `type` for
//     names that are not builtins, keywords or functions into our own
//     lookup (lookupBuiltin), which searches the container.
//   - Process substitution <(...) makes FIFOs in the runner's temp dir
//     and opens them directly. The temp dir is a private, empty host
//     directory per shell (never the container's $TMPDIR), and applets
//     can open those FIFOs through the per-instance filesystem.

// lookupBuiltin is the internal command the call handler rewrites
// `command -v` and `type` into.
const lookupBuiltin = "__sockerless_lookup"

// failBuiltin is the internal command a refused command is rewritten
// into: it prints its argument and fails with status 2.
const failBuiltin = "__sockerless_fail"

// isattyBuiltin is the internal command `[ -t FD ]` and `test -t FD`
// are rewritten into: is FD the container's terminal.
const isattyBuiltin = "__sockerless_isatty"

// shellOpts are the options sh/bash accept on the command line that the
// interpreter implements; others are accepted and ignored.
func knownShellOpt(c byte) bool { return strings.IndexByte("aefnux", c) >= 0 }

func knownLongOpt(name string) bool {
	switch name {
	case "allexport", "errexit", "noexec", "noglob", "nounset", "xtrace", "pipefail":
		return true
	}
	return false
}

// runShell runs sh/bash/ash/dash with inv.argv.
func (c *Container) runShell(ctx context.Context, inv *invocation) int {
	// The shell Start ran (not one it started) handles the process's
	// signals with its traps.
	var sig *sigState
	if inv.pid != 0 && inv.sig.own() {
		sig = inv.sig
	}
	t, err := c.addTask(inv)
	if err != nil {
		inv.errf("sh: %v\n", err)
		return 2
	}
	defer c.endTask(t)
	start := time.Now()
	defer func() { c.cpuNanos.Add(int64(time.Since(start))) }()
	self := inv.child()
	self.ppid = t.info.PID

	args := inv.argv[1:]
	var opts []string
	cmdMode, readStdin := false, false
	for len(args) > 0 {
		a := args[0]
		if a == "--" || a == "-" {
			args = args[1:]
			break
		}
		if strings.HasPrefix(a, "--") {
			args = args[1:] // --login, --noprofile, --norc, --posix...
			continue
		}
		if len(a) < 2 || a[0] != '-' && a[0] != '+' {
			break
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			switch ch := a[i]; {
			case ch == 'c':
				cmdMode = true
			case ch == 's':
				readStdin = true
			case ch == 'o':
				if len(args) > 0 {
					if knownLongOpt(args[0]) {
						opts = append(opts, a[:1]+"o", args[0])
					}
					args = args[1:]
				}
			case knownShellOpt(ch):
				opts = append(opts, a[:1]+string(ch))
			}
		}
	}
	name0 := inv.argv[0]
	var params []string
	var src []byte
	interactive := false
	switch {
	case cmdMode:
		if len(args) == 0 {
			self.errf("%s: -c: option requires an argument\n", name0)
			return 2
		}
		src = []byte(args[0])
		if len(args) > 1 {
			name0, params = args[1], args[2:]
		}
	case len(args) > 0 && !readStdin:
		script := rootfs.Abs(inv.dir, args[0])
		data, err := c.fs.ReadFile(script)
		if err != nil {
			self.errf("%s: 0: cannot open %s: %s\n", name0, args[0], errText(err))
			if errors.Is(err, fs.ErrNotExist) {
				return 127
			}
			return 126
		}
		src, name0, params = data, args[0], args[1:]
	default:
		interactive, params = true, args
	}

	tmp, err := os.MkdirTemp(c.sb.opts.TempDir, "sockerless-sh-")
	if err != nil {
		self.errf("%s: %v\n", name0, err)
		return 2
	}
	defer os.RemoveAll(tmp)

	var file *syntax.File
	funcs := map[string]bool{}
	if !interactive {
		file, err = syntax.NewParser().Parse(bytes.NewReader(src), name0)
		if err != nil {
			self.errf("%s: %v\n", name0, err)
			return 2
		}
		syntax.Walk(file, func(n syntax.Node) bool {
			if fd, ok := n.(*syntax.FuncDecl); ok {
				funcs[fd.Name.Value] = true
			}
			return true
		})
		rewriteSpecialParams(file)
	}
	runInv := self
	if interactive {
		// The script is being read from stdin; commands get no stdin
		// rather than racing the parser for it.
		runInv = self.child()
		runInv.stdin = nil
	}
	r, err := c.newRunner(runInv, name0, t, sig, tmp, funcs, append(opts, append([]string{"--"}, params...)...))
	if err != nil {
		self.errf("%s: %v\n", name0, err)
		return 2
	}
	if !interactive {
		return shellStatus(ctx, self, r.Run(ctx, file))
	}
	// Statements from stdin run as they complete, so an interactive
	// session (or a pipe feeding commands) proceeds line by line.
	stdin := self.stdin
	if stdin == nil {
		stdin = eofReader{}
	}
	if inv.tty {
		io.WriteString(self.stdout, prompt(inv))
	}
	status := 0
	var perr error
lines:
	for stmts, err := range syntax.NewParser().InteractiveSeq(&newlineAtEOF{r: stdin}) {
		if err != nil {
			perr = err
			break
		}
		for _, st := range stmts {
			syntax.Walk(st, func(n syntax.Node) bool {
				if fd, ok := n.(*syntax.FuncDecl); ok {
					funcs[fd.Name.Value] = true
				}
				return true
			})
			rewriteSpecialParams(st)
			status = shellStatus(ctx, self, r.Run(ctx, st))
			if r.Exited() || ctx.Err() != nil {
				break lines
			}
		}
		if inv.tty {
			io.WriteString(self.stdout, prompt(inv))
		}
	}
	if perr != nil && ctx.Err() == nil && !r.Exited() {
		self.errf("%s: %v\n", name0, perr)
		return 2
	}
	return status
}

// newlineAtEOF ends its input with a newline when the input does not:
// the interactive parser runs statements only when their line ends, and
// a shell reading commands from stdin runs a last line without one
// (gitlab-ci-local sends ". /gcl-cmd" with no newline).
type newlineAtEOF struct {
	r      io.Reader
	eof    bool // r reported EOF
	needNL bool // the last byte delivered was not a newline
}

func (n *newlineAtEOF) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !n.eof {
		k, err := n.r.Read(p)
		if k > 0 {
			n.needNL = p[k-1] != '\n'
		}
		if err != io.EOF {
			return k, err
		}
		n.eof = true
		if k > 0 {
			return k, nil
		}
	}
	if n.needNL {
		n.needNL = false
		p[0] = '\n'
		return 1, nil
	}
	return 0, io.EOF
}

func prompt(inv *invocation) string {
	if inv.uid == 0 {
		return "# "
	}
	return "$ "
}

// shellStatus turns the interpreter's result into an exit status.
func shellStatus(ctx context.Context, inv *invocation, err error) int {
	if err == nil {
		return 0
	}
	var es interp.ExitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	if ctx.Err() != nil {
		return 128 + 9
	}
	inv.errf("sh: %v\n", err)
	return 1
}

// shellEnv layers shell-only variables (UID, EUID, GID, and the TMPDIR the
// interpreter uses for its FIFOs) over the process environment.
type shellEnv struct {
	base  expand.Environ
	extra map[string]expand.Variable
	fs    *rootfs.FS // the container's: ~user looks up its /etc/passwd
}

func (e shellEnv) Get(name string) expand.Variable {
	if v, ok := e.extra[name]; ok {
		return v
	}
	if user, ok := strings.CutPrefix(name, "HOME "); ok && e.fs != nil {
		// The expander asks for "HOME user" to expand ~user and falls
		// back to the host's user database when the answer is unset. An
		// unknown user's ~user stays as written, as in every shell.
		home, found := containerHome(e.fs, user)
		if !found {
			home = "~" + user
		}
		return expand.Variable{Set: true, Kind: expand.String, Str: home}
	}
	return e.base.Get(name)
}

// containerHome looks user's home directory up in the container's
// /etc/passwd.
func containerHome(fsys *rootfs.FS, user string) (string, bool) {
	data, err := fsys.ReadFile("/etc/passwd")
	if err != nil {
		return "", false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[0] == user {
			return f[5], true
		}
	}
	return "", false
}

// pidVar and ppidVar are the read-only variables $$ and $PPID are
// rewritten to: the interpreter itself answers them with the daemon's
// own PID and parent.
const (
	pidVar  = "__sockerless_pid"
	ppidVar = "__sockerless_ppid"
)

// rewriteSpecialParams points every $$ and $PPID in n at the container's
// process table (pidVar, ppidVar).
func rewriteSpecialParams(n syntax.Node) {
	syntax.Walk(n, func(n syntax.Node) bool {
		if pe, ok := n.(*syntax.ParamExp); ok && pe.Param != nil {
			switch pe.Param.Value {
			case "$":
				pe.Param = &syntax.Lit{ValuePos: pe.Param.ValuePos, ValueEnd: pe.Param.ValueEnd, Value: pidVar}
			case "PPID":
				pe.Param = &syntax.Lit{ValuePos: pe.Param.ValuePos, ValueEnd: pe.Param.ValueEnd, Value: ppidVar}
			}
		}
		return true
	})
}

func (e shellEnv) Each(fn func(string, expand.Variable) bool) {
	for k, v := range e.extra {
		if !fn(k, v) {
			return
		}
	}
	e.base.Each(func(k string, v expand.Variable) bool {
		if _, ok := e.extra[k]; ok {
			return true
		}
		return fn(k, v)
	})
}

func newRunner(opts ...interp.RunnerOption) (*interp.Runner, error) { return interp.New(opts...) }

// newRunner builds an interpreter for inv whose every file access and
// command goes through the container.
func (c *Container) newRunner(inv *invocation, name0 string, t *task, sig *sigState, tmp string, funcs map[string]bool, params []string) (*interp.Runner, error) {
	ro := func(v string) expand.Variable {
		return expand.Variable{Set: true, Kind: expand.String, ReadOnly: true, Str: v}
	}
	base := expand.ListEnviron(inv.env...)
	idVars := map[string]expand.Variable{
		"UID":  ro(strconv.Itoa(inv.uid)),
		"EUID": ro(strconv.Itoa(inv.uid)),
		"GID":  ro(strconv.Itoa(inv.gid)),
		// $$ and $PPID are rewritten to these (see rewriteSpecialParams):
		// the shell's PID in the container's process table, not the
		// daemon's.
		pidVar:  ro(strconv.Itoa(t.info.PID)),
		ppidVar: ro(strconv.Itoa(t.info.PPID)),
	}
	shell := "sh"
	if len(inv.argv) > 0 {
		shell = path.Base(inv.argv[0])
	}
	if shell == "bash" {
		c.bashVars(inv, idVars, base)
	}
	bootstrap := map[string]expand.Variable{"TMPDIR": {Set: true, Kind: expand.String, Str: tmp}}
	for k, v := range idVars {
		bootstrap[k] = v
	}
	h := &shellHandlers{c: c, inv: inv, t: t, sig: sig, funcs: funcs, tmp: tmp, shell: shell, name0: name0}
	stdin := inv.stdin
	if stdin != nil && inv.ttyIn != nil && stdin == inv.ttyIn {
		// The interpreter turns a reader into an os.Pipe; make that pipe
		// here so commands reading it are known to be on the terminal.
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		go func(src io.Reader) {
			_, _ = io.Copy(pw, src)
			pw.Close()
		}(stdin)
		stdin, inv.ttyIn = pr, pr
	}
	r, err := newRunner(
		interp.Env(shellEnv{base: base, extra: bootstrap, fs: c.fs}),
		func(r *interp.Runner) error { r.Dir = inv.dir; return nil }, // no host os.Stat
		interp.StdIO(stdin, inv.stdout, inv.stderr),
		interp.CallHandler(h.call),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return h.exec }),
		interp.OpenHandler(h.open),
		interp.ReadDirHandler2(h.readDir),
		interp.StatHandler(h.stat),
		interp.AccessHandler(h.access),
		interp.Params(params...),
	)
	if err != nil {
		return nil, err
	}
	// The first reset fixes the FIFO directory from the bootstrap TMPDIR;
	// the second installs the real environment.
	r.Reset()
	r.Env = shellEnv{base: base, extra: idVars, fs: c.fs}
	r.Reset()
	return r, nil
}

// bashVersion is what $BASH_VERSION says: the interpreter follows bash
// 5.3 (mvdan.cc/sh's own tests compare it with bash 5.3).
const bashVersion = "5.3.0(1)-release"

// bashVars adds what bash sets at start: $BASH (the path it runs from),
// $BASH_VERSION, and $SHELL, when the environment has none, from the
// user's entry in the container's /etc/passwd. None is exported, as in
// bash.
func (c *Container) bashVars(inv *invocation, vars map[string]expand.Variable, env expand.Environ) {
	v := func(s string) expand.Variable { return expand.Variable{Set: true, Kind: expand.String, Str: s} }
	self := inv.argv[0]
	if strings.Contains(self, "/") {
		self = rootfs.Abs(inv.dir, self)
	} else if p, ok := c.lookPath(inv, self); ok {
		self = p
	} else {
		self = "/bin/" + self
	}
	vars["BASH"] = v(self)
	vars["BASH_VERSION"] = v(bashVersion)
	if !env.Get("SHELL").IsSet() {
		if sh, ok := containerShell(c.fs, inv.uid); ok {
			vars["SHELL"] = v(sh)
		}
	}
}

// containerShell looks the login shell of uid up in the container's
// /etc/passwd.
func containerShell(fsys *rootfs.FS, uid int) (string, bool) {
	data, err := fsys.ReadFile("/etc/passwd")
	if err != nil {
		return "", false
	}
	id := strconv.Itoa(uid)
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[2] == id {
			return f[6], true
		}
	}
	return "", false
}

// shellHandlers connects one interpreter to its container.
type shellHandlers struct {
	c   *Container
	inv *invocation
	t   *task // the shell's entry in the process table
	// sig is the process's signal state when this shell handles its
	// signals (the top-level shell), else nil.
	sig *sigState
	// accounted is when the variables were last charged and
	// depthChecked when the nesting depth was last measured (unix nanos).
	accounted, depthChecked atomic.Int64
	funcs                   map[string]bool // functions declared in the script (static)
	tmp                     string          // private host directory of the FIFOs of <(...)
	// declared holds the names echo and printf when a sourced file or
	// an eval declared a function so named (see noteFuncs).
	declared sync.Map
	// shell is the name the shell runs as ("sh", "ash", "bash": bash's
	// messages differ from busybox ash's), name0 is its $0.
	shell, name0 string
}

func (h *shellHandlers) abs(hc interp.HandlerContext, p string) string {
	return rootfs.Abs(hc.Dir, p)
}

// trap takes the signal conditions out of a trap command: they are set
// in the process's signal state (by the top-level shell; another shell
// is never sent signals) and the rest (EXIT, ERR, errors) is left to the
// interpreter, which knows only those.
func (h *shellHandlers) trap(hc interp.HandlerContext, args []string) []string {
	ops := args[1:]
	if len(ops) > 0 && ops[0] == "--" {
		ops = ops[1:]
	}
	if len(ops) == 0 || ops[0] == "-p" {
		if h.sig != nil {
			for _, l := range h.sig.list() {
				fmt.Fprintln(hc.Stdout, l)
			}
		}
		return args
	}
	if strings.HasPrefix(ops[0], "-") && ops[0] != "-" {
		return args
	}
	action, specs := "-", ops
	if len(ops) > 1 {
		action, specs = ops[0], ops[1:]
	}
	rest := []string{"trap", action}
	for _, spec := range specs {
		n, ok := parseSignal(spec)
		if !ok {
			rest = append(rest, spec)
			continue
		}
		if h.sig != nil {
			h.sig.set(n, action)
		}
	}
	if len(rest) == 2 {
		return []string{"true"}
	}
	return rest
}

// exportedEnv lists the exported variables of the shell.
func exportedEnv(env expand.Environ) []string {
	var out []string
	seen := map[string]int{}
	env.Each(func(name string, vr expand.Variable) bool {
		if !vr.Exported || !vr.IsSet() {
			if i, ok := seen[name]; ok {
				out[i] = ""
			}
			return true
		}
		kv := name + "=" + vr.String()
		if i, ok := seen[name]; ok {
			out[i] = kv
		} else {
			seen[name] = len(out)
			out = append(out, kv)
		}
		return true
	})
	res := out[:0]
	for _, kv := range out {
		if kv != "" {
			res = append(res, kv)
		}
	}
	return res
}

func (h *shellHandlers) call(ctx context.Context, args []string) ([]string, error) {
	if err := h.c.gate(ctx); err != nil {
		return nil, err
	}
	if err := h.c.joinCPU(); err != nil {
		// Shell code runs on the interpreter's goroutines too (pipeline
		// stages, subshells): each goes under the CPU limit at its first
		// command.
		return []string{failBuiltin, args[0] + ": " + err.Error()}, nil
	}
	hc := interp.HandlerCtx(ctx)
	if err := h.account(hc); err != nil {
		return nil, err
	}
	if runtime.NumGoroutine() > h.c.sb.opts.MaxGoroutines || h.c.tooManyGoroutines() {
		// Background jobs of functions are goroutines, counted against
		// the container's PIDs limit by their label (census.go), and
		// past the daemon-wide ceiling no shell command starts: a bomb
		// of them starves itself.
		return []string{failBuiltin, args[0] + ": " + errNoPIDs.Error()}, nil
	}
	for _, std := range []any{hc.Stdin, hc.Stdout} {
		if f, ok := std.(*os.File); ok && !h.c.notePipe(f) {
			// The command fails (status 2) and the shell goes on, as
			// when fork or pipe fails in a real shell.
			return []string{failBuiltin, args[0] + ": " + errNoPipes.Error()}, nil
		}
	}
	if h.sig != nil && h.sig.pending.Load() > 0 {
		// Trapped signals arrived: their traps run before this command.
		if code := h.sig.take(); code != "" {
			quoted := make([]string, len(args))
			for i, a := range args {
				q, err := syntax.Quote(a, syntax.LangBash)
				if err != nil {
					return nil, err
				}
				quoted[i] = q
			}
			return []string{"eval", code + "\n" + strings.Join(quoted, " ")}, nil
		}
	}
	name := args[0]
	if !interp.IsBuiltin(name) || name == "eval" || name == "source" || name == "." || name == "command" {
		// A function call, or a builtin that runs more shell code: the
		// interpreter recurses on this goroutine's stack, which Go lets
		// grow to a fatal 1 GB. Stop it as bash does with FUNCNEST.
		if h.checkDepth() && tooDeep() {
			return nil, fmt.Errorf("%s: maximum function nesting level exceeded (%d)", name, maxFuncNest)
		}
	}
	if name == "echo" && !h.shadowed("echo") {
		args = splitEchoOpts(args)
	}
	if out := h.routeOutput(hc, args); out != nil {
		return out, nil
	}
	switch name {
	case "trap":
		return h.trap(hc, args), nil
	case "eval":
		h.noteFuncs(strings.Join(args[1:], " "))
	case "command":
		if len(args) >= 3 && (args[1] == "-v" || args[1] == "-V") {
			return append([]string{lookupBuiltin, args[1]}, args[2:]...), nil
		}
	case "type":
		mode, names := "-type", args[1:]
		for len(names) > 0 && strings.HasPrefix(names[0], "-") && len(names[0]) > 1 {
			switch names[0] {
			case "-p", "-P", "-t":
				mode = "-type" + names[0]
			case "--":
			default:
				return args, nil // the interpreter's own error for what it does not know
			}
			names = names[1:]
		}
		return append([]string{lookupBuiltin, mode}, names...), nil
	case "which":
		if len(args) >= 2 && !strings.HasPrefix(args[1], "-") {
			return append([]string{lookupBuiltin, "-which"}, args[1:]...), nil
		}
	case "source", ".":
		// The interpreter would search the host's PATH (and stat the
		// host) for a name; resolve it in the container and pass the
		// absolute container path, which the open handler reads.
		if len(args) >= 2 {
			out := slices.Clone(args)
			out[1] = h.sourcePath(hc, args[1])
			if data, err := h.c.fs.ReadFile(out[1]); err == nil {
				h.noteFuncs(string(data))
			}
			return out, nil
		}
	case "[", "test":
		// The interpreter's `test -t` asks the host whether its own
		// descriptor is a terminal; the container's terminal is ours.
		if (len(args) == 4 && args[0] == "[" && args[3] == "]" || len(args) == 3 && args[0] == "test") && args[1] == "-t" && !h.funcs[args[0]] {
			return []string{isattyBuiltin, args[2]}, nil
		}
	}
	return args, nil
}

// maxFuncNest is the function nesting the shell allows (bash's FUNCNEST
// set to 1000), counted in Go stack frames: framesPerCall is what one
// level of `f(){ f; }` takes in the interpreter (measured by
// TestShellRecursionFrames).
const (
	maxFuncNest   = 1000
	framesPerCall = 8
)

// tooDeep reports whether the calling goroutine's stack is deeper than
// maxFuncNest levels of shell function calls. runtime.Callers walks only
// the frames that exist, so a shallow script pays for a short walk.
func tooDeep() bool {
	var pc [1]uintptr
	return runtime.Callers(maxFuncNest*framesPerCall, pc[:]) > 0
}

// depthEvery is how often a shell's nesting depth is measured: walking
// the stack costs ~10 µs, and in this time a recursion adds at most a
// few hundred levels past maxFuncNest.
const depthEvery = 200 * time.Microsecond

// checkDepth reports whether it is time to measure the nesting depth.
func (h *shellHandlers) checkDepth() bool {
	now := time.Now().UnixNano()
	last := h.depthChecked.Load()
	return now-last >= int64(depthEvery) && h.depthChecked.CompareAndSwap(last, now)
}

// account charges the shell's variables to the container's memory and
// fails the command (the container being killed) past the limit. It runs
// before every command, the only hook the interpreter offers, so a loop
// that grows a variable is caught at its next command.
func (h *shellHandlers) account(hc interp.HandlerContext) error {
	if h.t == nil || h.c.memoryLimit() <= 0 {
		return nil
	}
	// Summing the variables costs microseconds; do it at most once per
	// accountEvery. A variable can grow in that time by what memory
	// bandwidth copies, a few MiB, which bounds the overshoot.
	now := time.Now().UnixNano()
	if last := h.accounted.Load(); now-last < int64(accountEvery) || !h.accounted.CompareAndSwap(last, now) {
		return nil
	}
	size := envSize(hc.Env)
	old := h.t.shellMem.Load()
	if size > old && !h.c.chargeMemory(&h.c.shellMem, size-old) {
		h.c.oomKill()
		return errOOM
	}
	if size < old {
		h.c.chargeMemory(&h.c.shellMem, size-old)
	}
	h.t.shellMem.Store(size)
	return nil
}

// errNoPipes fails a command whose container holds as many pipes and
// files as its open-file limit.
var errNoPipes = errors.New("can't create pipe: Too many open files")

// accountEvery is how often a busy shell's variables are summed.
const accountEvery = time.Millisecond

// errOOM ends a shell whose container passed its memory limit.
var errOOM = errors.New("Killed")

// envSize is the bytes an environment's variables hold.
func envSize(env expand.Environ) int64 {
	var n int64
	env.Each(func(name string, vr expand.Variable) bool {
		n += int64(len(name) + len(vr.Str))
		for _, v := range vr.List {
			n += int64(len(v))
		}
		for k, v := range vr.Map {
			n += int64(len(k) + len(v))
		}
		return true
	})
	return n
}

// sourcePath resolves the file `. name` reads inside the container: a
// name with a slash relative to the working directory, else the first
// readable file on PATH, else the working directory (as bash does).
func (h *shellHandlers) sourcePath(hc interp.HandlerContext, name string) string {
	if !strings.Contains(name, "/") {
		for _, dir := range strings.Split(hc.Env.Get("PATH").String(), ":") {
			if dir == "" {
				dir = "."
			}
			p := rootfs.Abs(hc.Dir, path.Join(dir, name))
			if fi, err := h.c.fs.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
	}
	return rootfs.Abs(hc.Dir, name)
}

func (h *shellHandlers) exec(ctx context.Context, args []string) error {
	if err := h.c.gate(ctx); err != nil {
		return err
	}
	hc := interp.HandlerCtx(ctx)
	if args[0] == outBuiltin && len(args) >= 2 {
		return h.output(hc, args[1], args[2:])
	}
	inv := h.inv.child()
	inv.argv = args
	inv.env = exportedEnv(hc.Env)
	inv.dir = hc.Dir
	inv.stdin = hc.Stdin
	if f, ok := hc.Stdin.(*os.File); ok && f == nil {
		inv.stdin = nil
	}
	inv.ttyIn, inv.ttyOut = nil, nil
	if inv.stdin != nil {
		onTTY := h.inv.ttyIn != nil && hc.Stdin == h.inv.ttyIn
		inv.stdin = newCtxReader(ctx, inv.stdin)
		if onTTY {
			inv.ttyIn = inv.stdin
		}
	}
	inv.stdout, inv.stderr = hc.Stdout, hc.Stderr
	if h.inv.ttyOut != nil && (hc.Stdout == h.inv.ttyOut || hc.Stderr == h.inv.ttyOut) {
		inv.ttyOut = h.inv.ttyOut
	}
	for _, a := range args[1:] {
		// A process substitution's FIFO, passed by name: let this
		// command (and only it) open that host FIFO.
		if strings.HasPrefix(a, h.tmp+"/sh-interp-") && !strings.Contains(a[len(h.tmp)+1:], "/") {
			if inv.fifos == nil {
				inv.fifos = map[string]bool{}
			}
			inv.fifos[a] = true
		}
	}
	var code int
	switch {
	case args[0] == isattyBuiltin:
		code = 1
		if fd, err := strconv.Atoi(args[1]); err == nil && inv.isatty(fd) {
			code = 0
		}
	case args[0] == failBuiltin:
		inv.errf("sh: %s\n", args[1])
		code = 2
	case args[0] == lookupBuiltin:
		code = h.lookup(inv, args[1], args[2:])
	default:
		code = h.c.dispatch(ctx, inv)
	}
	if code == 0 {
		return nil
	}
	return interp.ExitStatus(uint8(code))
}

// lookup implements `command -v/-V`, `type [-p|-P|-t]` and `which` with
// every name looked up in the container: keywords, functions and builtins
// as the shell knows them, commands on the container's PATH.
func (h *shellHandlers) lookup(inv *invocation, mode string, names []string) int {
	status := 0
	for _, n := range names {
		kind := ""
		switch {
		case syntax.IsKeyword(n):
			kind = "keyword"
		case h.funcs[n]:
			kind = "function"
		case interp.IsBuiltin(n):
			kind = "builtin"
		}
		if kind != "" && mode != "-type-P" && mode != "-which" {
			switch mode {
			case "-v":
				fmt.Fprintln(inv.stdout, n)
			case "-V", "-type":
				desc := map[string]string{"keyword": "a shell keyword", "function": "a function", "builtin": "a shell builtin"}[kind]
				fmt.Fprintf(inv.stdout, "%s is %s\n", n, desc)
			case "-type-t":
				fmt.Fprintln(inv.stdout, kind)
			}
			continue // type -p prints nothing for these, successfully
		}
		p, ok := h.resolve(inv, n)
		if !ok {
			status = 1
			if mode == "-V" || mode == "-type" {
				inv.errf("sh: %s: not found\n", n)
			}
			continue
		}
		switch mode {
		case "-V", "-type":
			fmt.Fprintf(inv.stdout, "%s is %s\n", n, p)
		case "-type-t":
			fmt.Fprintln(inv.stdout, "file")
		default:
			fmt.Fprintln(inv.stdout, p)
		}
	}
	return status
}

// resolve finds the path a command name runs from: applets and shells
// live in /bin, other commands on PATH.
func (h *shellHandlers) resolve(inv *invocation, name string) (string, bool) {
	if strings.Contains(name, "/") {
		p := rootfs.Abs(inv.dir, name)
		fi, err := h.c.fs.Stat(p)
		return name, err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
	}
	if isShell(name) || h.c.sb.isApplet(name) {
		if p, ok := h.c.lookPathBefore(inv, name); ok {
			return p, true
		}
		return "/bin/" + name, true
	}
	return h.c.lookPath(inv, name)
}

func (h *shellHandlers) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	if err := h.c.gate(ctx); err != nil {
		return nil, err
	}
	hc := interp.HandlerCtx(ctx)
	name := h.abs(hc, p)
	if d := deviceFor(name); d != devNone {
		inv := &invocation{stdin: hc.Stdin, stdout: hc.Stdout, stderr: hc.Stderr}
		return &devRWC{kind: d, inv: inv}, nil
	}
	if !h.c.openFile() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EMFILE}
	}
	q, freed := h.c.opening(name, flag)
	f, err := h.c.fs.OpenFile(name, flag, perm)
	if err != nil {
		h.c.closeFile()
		return nil, err
	}
	if q != nil {
		q.give(freed)
		return &quotaFile{countedFile: countedFile{File: f, c: h.c}, q: q, appending: flag&os.O_APPEND != 0}, nil
	}
	return &countedFile{File: f, c: h.c}, nil
}

// countedFile is a file a shell redirection opened, counted against the
// container's open-file limit until closed.
type countedFile struct {
	*os.File
	c    *Container
	once sync.Once
}

func (f *countedFile) Close() error {
	f.once.Do(f.c.closeFile)
	return f.File.Close()
}

func (h *shellHandlers) readDir(ctx context.Context, p string) ([]fs.DirEntry, error) {
	return h.c.fs.ReadDir(h.abs(interp.HandlerCtx(ctx), p))
}

func (h *shellHandlers) stat(ctx context.Context, p string, follow bool) (fs.FileInfo, error) {
	name := h.abs(interp.HandlerCtx(ctx), p)
	if deviceFor(name) != devNone {
		return devInfo{name: name}, nil
	}
	if follow {
		return h.c.fs.Stat(name)
	}
	return h.c.fs.Lstat(name)
}

func (h *shellHandlers) access(ctx context.Context, p string, mode interp.AccessMode) error {
	name := h.abs(interp.HandlerCtx(ctx), p)
	if deviceFor(name) != devNone {
		return nil
	}
	fi, err := h.c.fs.Stat(name)
	if err != nil {
		return err
	}
	if mode&interp.AccessExec != 0 && !fi.IsDir() && fi.Mode()&0o111 == 0 {
		return &fs.PathError{Op: "access", Path: p, Err: fs.ErrPermission}
	}
	return nil
}

// devRWC is a device opened by a shell redirection.
type devRWC struct {
	kind devKind
	inv  *invocation
}

func (d *devRWC) Read(p []byte) (int, error)  { return devRead(d.kind, d.inv, p) }
func (d *devRWC) Write(p []byte) (int, error) { return devWrite(d.kind, d.inv, p) }
func (d *devRWC) Close() error                { return nil }

// devInfo describes a device file.
type devInfo struct{ name string }

func (d devInfo) Name() string       { return d.name[strings.LastIndexByte(d.name, '/')+1:] }
func (d devInfo) Size() int64        { return 0 }
func (d devInfo) Mode() fs.FileMode  { return fs.ModeDevice | fs.ModeCharDevice | 0o666 }
func (d devInfo) ModTime() time.Time { return time.Time{} }
func (d devInfo) IsDir() bool        { return false }
func (d devInfo) Sys() any           { return nil }

// errText renders an error without Go's "open PATH:" prefix.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	}
	return err.Error()
}
