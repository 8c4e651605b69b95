package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
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
	t := c.addTask(inv)
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
	}
	runInv := self
	if interactive {
		// The script is being read from stdin; commands get no stdin
		// rather than racing the parser for it.
		runInv = self.child()
		runInv.stdin = nil
	}
	r, err := c.newRunner(runInv, tmp, funcs, append(opts, append([]string{"--"}, params...)...))
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
}

func (e shellEnv) Get(name string) expand.Variable {
	if v, ok := e.extra[name]; ok {
		return v
	}
	return e.base.Get(name)
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
func (c *Container) newRunner(inv *invocation, tmp string, funcs map[string]bool, params []string) (*interp.Runner, error) {
	ro := func(v string) expand.Variable {
		return expand.Variable{Set: true, Kind: expand.String, ReadOnly: true, Str: v}
	}
	base := expand.ListEnviron(inv.env...)
	idVars := map[string]expand.Variable{
		"UID":  ro(strconv.Itoa(inv.uid)),
		"EUID": ro(strconv.Itoa(inv.uid)),
		"GID":  ro(strconv.Itoa(inv.gid)),
	}
	bootstrap := map[string]expand.Variable{"TMPDIR": {Set: true, Kind: expand.String, Str: tmp}}
	for k, v := range idVars {
		bootstrap[k] = v
	}
	h := &shellHandlers{c: c, inv: inv, funcs: funcs, tmp: tmp}
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
		interp.Env(shellEnv{base: base, extra: bootstrap}),
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
	r.Env = shellEnv{base: base, extra: idVars}
	r.Reset()
	return r, nil
}

// shellHandlers connects one interpreter to its container.
type shellHandlers struct {
	c     *Container
	inv   *invocation
	funcs map[string]bool // functions declared in the script (static)
	tmp   string          // private host directory of the FIFOs of <(...)
}

func (h *shellHandlers) abs(hc interp.HandlerContext, p string) string {
	return rootfs.Abs(hc.Dir, p)
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
	switch args[0] {
	case "command":
		if len(args) >= 3 && (args[1] == "-v" || args[1] == "-V") && h.external(args[2]) {
			return append([]string{lookupBuiltin, args[1]}, args[2:]...), nil
		}
	case "type", "which":
		if len(args) >= 2 && !strings.HasPrefix(args[1], "-") && h.external(args[1]) {
			return append([]string{lookupBuiltin, "-" + args[0]}, args[1:]...), nil
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

// external reports whether name would be looked up on PATH (not a
// builtin, keyword or function).
func (h *shellHandlers) external(name string) bool {
	return !interp.IsBuiltin(name) && !syntax.IsKeyword(name) && !h.funcs[name]
}

func (h *shellHandlers) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
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

// lookup implements `command -v/-V`, `type` and `which` for names that
// are not builtins or functions.
func (h *shellHandlers) lookup(inv *invocation, mode string, names []string) int {
	status := 0
	for _, n := range names {
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
		return "/bin/" + name, true
	}
	return h.c.lookPath(inv, name)
}

func (h *shellHandlers) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	name := h.abs(hc, p)
	if d := deviceFor(name); d != devNone {
		inv := &invocation{stdin: hc.Stdin, stdout: hc.Stdout, stderr: hc.Stderr}
		return &devRWC{kind: d, inv: inv}, nil
	}
	f, err := h.c.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
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
