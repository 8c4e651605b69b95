// Command applets is the multi-call WASI program that provides the
// coreutils-like commands of the memory provider's sandbox. It is built with
// the stock Go toolchain for GOOS=wasip1 GOARCH=wasm and embedded in the
// sandbox package; the applet to run is chosen by the base name of argv[0]
// (or by argv[1] when argv[0] is "applets").
//
// Applets talk to the host through WASI (files, stdio, clocks) plus a few
// functions of the "sockerless" host module for what WASI lacks: file
// modes (chmod, stat), the container user, and running another command
// (env, xargs, find -exec, timeout).
//
// Every applet reads and writes through bufio; output is flushed before a
// nested command runs and when the applet returns.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Flags of the sockerless.spawn host function.
const (
	spawnFlagNullStdin = 1 // the child reads /dev/null
	spawnFlagEnv       = 2 // the environment is given (possibly empty)
)

// appletFunc runs one applet; args exclude the applet name.
type appletFunc func(e *env, args []string) int

// applets returns the table of applets by name.
func applets() map[string]appletFunc {
	return map[string]appletFunc{
		"[": testBracket, "arch": archCmd, "base64": base64Cmd, "basename": basenameCmd,
		"cat": catCmd, "chmod": chmodCmd, "cmp": cmpCmd, "cp": cpCmd, "cut": cutCmd,
		"date": dateCmd, "df": dfCmd, "dirname": dirnameCmd, "du": duCmd,
		"echo": echoCmd, "env": envCmd, "expr": exprCmd, "false": falseCmd,
		"find": findCmd, "grep": grepCmd, "egrep": egrepCmd, "fgrep": fgrepCmd,
		"gunzip": gunzipCmd, "gzip": gzipCmd, "head": headCmd, "hostname": hostnameCmd,
		"id": idCmd, "install": installCmd, "kill": killCmd, "ln": lnCmd, "ls": lsCmd,
		"md5sum": md5sumCmd, "mkdir": mkdirCmd, "mktemp": mktempCmd, "mv": mvCmd,
		"nproc": nprocCmd, "printenv": printenvCmd, "printf": printfCmd, "pwd": pwdCmd,
		"readlink": readlinkCmd, "realpath": realpathCmd, "rev": revCmd, "rm": rmCmd,
		"rmdir": rmdirCmd, "sed": sedCmdMain, "seq": seqCmd, "sha1sum": sha1sumCmd,
		"sha256sum": sha256sumCmd, "sha512sum": sha512sumCmd, "sleep": sleepCmd,
		"sort": sortCmd, "stat": statCmd, "sync": trueCmd, "tac": tacCmd, "tail": tailCmd,
		"tar": tarCmd, "tee": teeCmd, "test": testCmd, "timeout": timeoutCmd,
		"touch": touchCmd, "tr": trCmd, "true": trueCmd, "truncate": truncateCmd,
		"tty": ttyCmd, "uname": unameCmd, "uniq": uniqCmd, "wc": wcCmd, "which": whichCmd,
		"whoami": whoamiCmd, "xargs": xargsCmd, "yes": yesCmd, "zcat": zcatCmd,
		"nohup": nohupCmd, "usleep": usleepCmd, "mkfifo": unsupportedCmd, "ps": psCmd,
		"logname": whoamiCmd, "top": topCmd, "stty": sttyCmd, "mount": mountCmd, "ip": ipCmd, "groups": groupsCmd, "fold": foldCmd, "nl": nlCmd,
		"paste": pasteCmd, "comm": commCmd, "od": odCmd, "hexdump": hexdumpCmd,
		"xxd": xxdCmd, "split": unsupportedCmd, "chown": chownCmd, "chgrp": chownCmd,
		"dd": ddCmd, "cksum": cksumCmd, "sum": cksumCmd, "numfmt": unsupportedCmd,
		"shuf": shufCmd, "factor": unsupportedCmd, "basenc": unsupportedCmd,
		"busybox": busyboxCmd, "rsync": rsyncCmd,
	}
}

// busyboxCmd is the multi-call entry busybox images have: `busybox NAME
// ARG...` runs applet NAME, `busybox --list` lists the applets.
func busyboxCmd(e *env, args []string) int {
	if len(args) == 0 || args[0] == "--help" {
		fmt.Fprintln(e.stdout, "usage: busybox NAME [ARG]... | --list")
		return 0
	}
	if args[0] == "--list" {
		for _, n := range sortedKeys(applets()) {
			if n != "busybox" {
				fmt.Fprintln(e.stdout, n)
			}
		}
		return 0
	}
	if isShell(path.Base(args[0])) {
		// Shells run on the host side: hand them back to the sandbox.
		wd, _ := os.Getwd()
		return spawn(e, append([]string{path.Base(args[0])}, args[1:]...), nil, wd, 0, 0)
	}
	if err := e.flush(); err != nil {
		return 1
	}
	return run(args, e.in, e.stdout, e.stderr)
}

// isShell reports whether name is a shell; the host runs shells, not this
// module, but `which` and friends must know them.
func isShell(name string) bool {
	switch name {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// isApplet reports whether name is a command the sandbox provides.
func isApplet(name string) bool {
	_, ok := applets()[name]
	return ok || isShell(name)
}

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches argv to an applet with the given standard streams.
func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		return 127
	}
	name := path.Base(argv[0])
	args := argv[1:]
	if name == "applets" || name == "applets.wasm" {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "usage: applets NAME [ARG]...")
			return 2
		}
		if args[0] == "--list" {
			// The host asks which applets this module provides.
			for _, n := range sortedKeys(applets()) {
				fmt.Fprintln(stdout, n)
			}
			return 0
		}
		name, args = path.Base(args[0]), args[1:]
	}
	fn, ok := applets()[name]
	if !ok {
		fmt.Fprintf(stderr, "sh: %s: not found\n", name)
		return 127
	}
	e := newEnv(name, stdin, stdout, stderr)
	code := fn(e, args)
	if err := e.flush(); err != nil && code == 0 {
		code = 1
	}
	return code
}

// env is an applet's view of its process: buffered standard streams.
type env struct {
	name   string
	in     io.Reader
	stdin  *bufio.Reader
	stdout *bufio.Writer
	stderr *bufio.Writer
}

func newEnv(name string, stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{
		name:   name,
		in:     stdin,
		stdin:  bufio.NewReaderSize(stdin, 64<<10),
		stdout: bufio.NewWriterSize(stdout, 64<<10),
		stderr: bufio.NewWriterSize(stderr, 4<<10),
	}
}

func (e *env) flush() error {
	err := e.stdout.Flush()
	if err2 := e.stderr.Flush(); err == nil {
		err = err2
	}
	return err
}

// errf prints "name: message" on stderr.
func (e *env) errf(format string, a ...any) {
	fmt.Fprintf(e.stderr, e.name+": "+format+"\n", a...)
}

// fail prints err in coreutils style and returns 1.
func (e *env) fail(err error) int {
	e.errf("%s", errText(err))
	return 1
}

// usage reports a usage error with status 2 (1 for some coreutils, but
// scripts only test for non-zero).
func (e *env) usage(format string, a ...any) int {
	e.errf(format, a...)
	return 2
}

// errText renders err like coreutils: "path: No such file or directory".
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + errnoText(pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Old + " -> " + le.New + ": " + errnoText(le.Err)
	}
	return errnoText(err)
}

func errnoText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		switch en {
		case syscall.ENOENT:
			return "No such file or directory"
		case syscall.EEXIST:
			return "File exists"
		case syscall.ENOTDIR:
			return "Not a directory"
		case syscall.EISDIR:
			return "Is a directory"
		case syscall.EACCES, syscall.EPERM:
			return "Permission denied"
		case syscall.ENOTEMPTY:
			return "Directory not empty"
		case syscall.EROFS:
			return "Read-only file system"
		case syscall.EXDEV:
			return "Invalid cross-device link"
		case syscall.ELOOP:
			return "Too many levels of symbolic links"
		case syscall.EBUSY:
			return "Device or resource busy"
		case syscall.EIO:
			if sysInfo(infoNoSpace) == "1" {
				return "No space left on device"
			}
			return "Input/output error"
		}
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// getopt parses GNU-style options: clustered short flags, flags taking a
// value (attached or as the next argument), long options mapped to short
// ones, "--" ending options. Operands may be interleaved with options
// unless posix is set.
type getopt struct {
	bools  string            // flags without a value
	vals   string            // flags with a value
	longs  map[string]byte   // long name -> short flag
	posix  bool              // stop at the first operand
	set    map[byte]int      // how often each flag was given
	values map[byte][]string // values of value flags, in order
	args   []string          // operands
}

func (g *getopt) parse(args []string) error {
	g.set, g.values = map[byte]int{}, map[byte][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			g.args = append(g.args, args[i+1:]...)
			return nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			c, ok := g.longs[name]
			if !ok {
				return fmt.Errorf("unrecognized option '%s'", a)
			}
			if strings.IndexByte(g.vals, c) >= 0 {
				if !hasVal {
					if i+1 >= len(args) {
						return fmt.Errorf("option '%s' requires an argument", a)
					}
					i++
					val = args[i]
				}
				g.values[c] = append(g.values[c], val)
			}
			g.set[c]++
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				switch {
				case strings.IndexByte(g.vals, c) >= 0:
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return fmt.Errorf("option requires an argument -- '%c'", c)
						}
						i++
						val = args[i]
					}
					g.values[c] = append(g.values[c], val)
					g.set[c]++
					j = len(a)
				case strings.IndexByte(g.bools, c) >= 0:
					g.set[c]++
				default:
					return fmt.Errorf("invalid option -- '%c'", c)
				}
			}
		default:
			if g.posix {
				g.args = append(g.args, args[i:]...)
				return nil
			}
			g.args = append(g.args, a)
		}
	}
	return nil
}

func (g *getopt) has(c byte) bool { return g.set[c] > 0 }

func (g *getopt) val(c byte, def string) string {
	if v := g.values[c]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// parseOpts parses args with g and reports a usage error through e.
func parseOpts(e *env, g *getopt, args []string) bool {
	if err := g.parse(args); err != nil {
		e.errf("%v", err)
		return false
	}
	return true
}

// openInput opens a named input, "-" meaning stdin.
func (e *env) openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	return f, nil
}

// eachInput calls fn for every named input (stdin when none), reporting
// errors; it returns the exit status.
func (e *env) eachInput(names []string, fn func(name string, r *bufio.Reader) error) int {
	if len(names) == 0 {
		names = []string{"-"}
	}
	status := 0
	for _, n := range names {
		rc, err := e.openInput(n)
		if err != nil {
			e.fail(err)
			status = 1
			continue
		}
		var br *bufio.Reader
		if n == "-" {
			br = e.stdin
		} else {
			br = bufio.NewReaderSize(rc, 64<<10)
		}
		err = fn(n, br)
		rc.Close()
		if err != nil {
			if errors.Is(err, errStop) {
				return status
			}
			e.fail(err)
			status = 1
		}
	}
	return status
}

// errStop ends eachInput early without an error (e.g. grep -q matched).
var errStop = errors.New("stop")

// readLines calls fn for every line of r without its newline. The last
// line may lack a newline; hadNL tells.
func readLines(r *bufio.Reader, fn func(line []byte, hadNL bool) error) error {
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(line) > 0 {
			nl := line[len(line)-1] == '\n'
			if nl {
				line = line[:len(line)-1]
			}
			if ferr := fn(line, nl); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func atoi(s string) (int, error) { return strconv.Atoi(strings.TrimSpace(s)) }

func sortedKeys(m map[string]appletFunc) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
