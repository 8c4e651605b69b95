package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// The interpreter's echo and printf ignore their write errors: into a
// full mount they write what fits and succeed. Real shells report the
// error and fail, so the call handler routes them, when their output is a
// file a shell redirection opened (the only output here that can fail for
// a reason a shell reports: a size limit, the host's disk), to outBuiltin:
// the same output, written through the exec handler, which checks the
// error. Pipes, terminals, /dev/* and the process's own streams keep the
// interpreter's built-ins (a closed pipe stays silent as before; a real
// shell would be killed by SIGPIPE without a word).

// outBuiltin is the internal command echo and printf are rewritten into:
// its first argument is the built-in's name.
const outBuiltin = "__sockerless_out"

// routeOutput returns what the call handler runs for args, a call of
// echo or printf (also as `builtin NAME` or `command NAME`), or nil to
// leave it to the interpreter.
func (h *shellHandlers) routeOutput(hc interp.HandlerContext, args []string) []string {
	switch hc.Stdout.(type) {
	case *countedFile, *quotaFile:
	default:
		return nil
	}
	name, rest := args[0], args[1:]
	switch name {
	case "echo", "printf":
		if h.shadowed(name) {
			return nil // a function of that name runs instead
		}
	case "builtin", "command":
		if len(rest) == 0 || rest[0] != "echo" && rest[0] != "printf" {
			return nil
		}
		name, rest = rest[0], rest[1:]
	default:
		return nil
	}
	return append([]string{outBuiltin, name}, rest...)
}

// shadowed reports whether a function named name may have been declared:
// in the script, or in a file sourced or a string evaluated since.
func (h *shellHandlers) shadowed(name string) bool {
	if h.funcs[name] {
		return true
	}
	_, ok := h.declared.Load(name)
	return ok
}

// maybeOutputFunc matches code that may declare a function named echo or
// printf (`echo()`, `printf ()`, `function echo`): only such code is
// parsed by noteFuncs.
var maybeOutputFunc = regexp.MustCompile(`(echo|printf)\s*\(|function\s+(echo|printf)\b`)

// noteFuncs records the functions named echo or printf that code (a
// sourced file, an eval's string) declares, so that routeOutput leaves
// their calls to them. A parse error records nothing: the interpreter
// will fail on the same code.
func (h *shellHandlers) noteFuncs(code string) {
	if !maybeOutputFunc.MatchString(code) {
		return
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(code), "")
	if err != nil {
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		if fd, ok := n.(*syntax.FuncDecl); ok && (fd.Name.Value == "echo" || fd.Name.Value == "printf") {
			h.declared.Store(fd.Name.Value, true)
		}
		return true
	})
}

// output runs echo or printf (name) with args as the interpreter does,
// writing to hc.Stdout, and fails as the shell does when the write
// fails: busybox ash prints "sh: write error: REASON" for echo (the
// name it runs as: sh, ash) and nothing for printf, bash "$0: line N:
// echo: write error: REASON" for both ($0: bash, the script's path, or
// the name after `bash -c CODE`); the status is 1.
func (h *shellHandlers) output(hc interp.HandlerContext, name string, args []string) error {
	var err error
	switch name {
	case "echo":
		err = echo(hc.Stdout, args)
	case "printf":
		if len(args) == 0 {
			fmt.Fprintf(hc.Stderr, "usage: printf format [arguments]\n")
			return interp.ExitStatus(2)
		}
		var ferr error
		err, ferr = printf(hc.Stdout, args[0], args[1:])
		if err == nil && ferr != nil {
			fmt.Fprintf(hc.Stderr, "%v\n", ferr)
			return interp.ExitStatus(1)
		}
	}
	if err == nil {
		return nil
	}
	bash := h.shell == "bash"
	switch {
	case bash && hc.Pos.IsValid():
		fmt.Fprintf(hc.Stderr, "%s: line %d: %s: write error: %s\n", h.name0, hc.Pos.Line(), name, errnoText(err))
	case bash:
		fmt.Fprintf(hc.Stderr, "%s: %s: write error: %s\n", h.name0, name, errnoText(err))
	case name == "echo":
		fmt.Fprintf(hc.Stderr, "%s: write error: %s\n", h.shell, errnoText(err))
	}
	return interp.ExitStatus(1)
}

// echo is the interpreter's echo (mvdan.cc/sh/v3/interp): leading -n,
// -e and -E (each on its own), the arguments joined by spaces, escapes
// expanded by expand.Format under -e. It writes the line at once, as
// busybox does, and returns the write's error.
func echo(w io.Writer, args []string) error {
	newline, doExpand := true, false
opts:
	for len(args) > 0 {
		switch args[0] {
		case "-n":
			newline = false
		case "-e":
			doExpand = true
		case "-E":
		default:
			break opts
		}
		args = args[1:]
	}
	var b strings.Builder
	for i, arg := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if doExpand {
			arg, _, _ = expand.Format(nil, arg, nil)
		}
		b.WriteString(arg)
	}
	if newline {
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printf is the interpreter's printf: format is applied with
// expand.Format as long as arguments remain, each piece written as it is
// made. It returns the first write's error (nothing more is written
// after it) and the format's error.
func printf(w io.Writer, format string, args []string) (writeErr, formatErr error) {
	for {
		s, n, err := expand.Format(nil, format, args)
		if err != nil {
			return nil, err
		}
		if s != "" {
			if _, err := io.WriteString(w, s); err != nil {
				return err, nil
			}
		}
		args = args[n:]
		if n == 0 || len(args) == 0 {
			return nil, nil
		}
	}
}

// errnoText is the C library's text for a write error ("No space left
// on device"): Go's text for the errno, capitalised as strerror has it.
func errnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// splitEchoOpts spells echo's leading combined options (-ne, -en, -nE)
// one per word, as the interpreter's echo (and echo above) reads them:
// busybox and bash take any word of only n, e and E after the dash as
// options, so `echo -ne 'a\tb'` prints a tab and no newline, where the
// interpreter alone printed "-ne a\tb". Other words end the options.
func splitEchoOpts(args []string) []string {
	i, combined := 1, false
	for i < len(args) && isEchoOpts(args[i]) {
		combined = combined || len(args[i]) > 2
		i++
	}
	if !combined {
		return args
	}
	out := []string{args[0]}
	for _, a := range args[1:i] {
		for _, ch := range a[1:] {
			out = append(out, "-"+string(ch))
		}
	}
	return append(out, args[i:]...)
}

// isEchoOpts reports whether a is a word of echo options: a dash and
// one or more of n, e, E.
func isEchoOpts(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	return strings.Trim(a[1:], "neE") == ""
}
