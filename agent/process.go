package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// DefaultPath is the PATH a process gets when its environment has none,
// as in Docker.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Docker's exit codes for a process that could not be started.
const (
	ExitCannotExecute = 126
	ExitNotFound      = 127
)

// outputDrain bounds how long output is still copied after the process
// exits (background children may hold the pipes open).
const outputDrain = 2 * time.Second

// RunProcess runs p on this machine by fork/exec, wired to stdio, and
// returns Docker's exit code: the process's status, 128+n when killed by
// signal n, 127 when the command is not found and 126 when it cannot be
// executed (the reason is written to stdout, as moby's exec start does). A TTY process
// runs on a pseudo-terminal that follows stdio.Resize. Signals from
// stdio.Signal are delivered to the process; ctx ending kills it.
func RunProcess(ctx context.Context, p ticket.Process, stdio Stdio) (int, error) {
	if len(p.Cmd) == 0 {
		return ExitCannotExecute, errors.New("no command")
	}
	stderr := stdio.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	// A process that cannot start is reported on standard output, as
	// moby's exec start writes its error to the exec's stdout stream.
	stdout := orDiscard(stdio.Stdout)
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
	path, code, err := lookPath(p.Cmd[0], getenv(env, "PATH"), dir)
	if err != nil {
		fmt.Fprintf(stdout, "OCI runtime exec failed: exec failed: unable to start container process: %v: unknown\r\n", err)
		return code, nil
	}
	cmd := &exec.Cmd{Path: path, Args: p.Cmd, Env: env, Dir: dir, SysProcAttr: &syscall.SysProcAttr{}, WaitDelay: outputDrain}
	if p.User != "" {
		cred, err := credential(p.User)
		if err != nil {
			fmt.Fprintf(stdout, "OCI runtime exec failed: exec failed: unable to start container process: %v: unknown\r\n", err)
			return ExitCannotExecute, nil
		}
		cmd.SysProcAttr.Credential = cred
	}
	if p.Tty {
		return runTTY(ctx, cmd, stdio)
	}
	cmd.Stdout, cmd.Stderr = orDiscard(stdio.Stdout), stderr
	var stdinW io.WriteCloser
	if stdio.Stdin != nil {
		if stdinW, err = cmd.StdinPipe(); err != nil {
			return ExitCannotExecute, fmt.Errorf("stdin pipe: %w", err)
		}
	}
	_, release, err := startOwned(cmd, false, nil)
	if err != nil {
		fmt.Fprintf(stdout, "OCI runtime exec failed: exec failed: unable to start container process: %v: unknown\r\n", err)
		return startErrorCode(err), nil
	}
	defer release()
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, stdio.Stdin)
			_ = stdinW.Close()
		}()
	}
	return wait(ctx, cmd, stdio, nil)
}

func runTTY(ctx context.Context, cmd *exec.Cmd, stdio Stdio) (int, error) {
	size := &pty.Winsize{Rows: 24, Cols: 80}
	// A size sent with the start request arrives before the process.
	select {
	case s := <-stdio.Resize:
		size = &pty.Winsize{Rows: uint16(s.Height), Cols: uint16(s.Width)}
	default:
	}
	ptmx, release, err := startOwned(cmd, true, size)
	if err != nil {
		fmt.Fprintf(orDiscard(stdio.Stdout), "OCI runtime exec failed: exec failed: unable to start container process: %v: unknown\r\n", err)
		return startErrorCode(err), nil
	}
	defer release()
	defer ptmx.Close()
	if stdio.Stdin != nil {
		go func() {
			_, _ = io.Copy(ptmx, stdio.Stdin)
			// Half-close on a terminal: send EOF (^D) as a terminal would.
			_, _ = ptmx.Write([]byte{4})
		}()
	}
	out := make(chan struct{})
	go func() {
		defer close(out)
		_, _ = io.Copy(orDiscard(stdio.Stdout), ptmx) // ends with EIO when the terminal closes
	}()
	return wait(ctx, cmd, stdio, func(s frame.Size) {
		_ = pty.Setsize(ptmx, &pty.Winsize{Rows: uint16(s.Height), Cols: uint16(s.Width)})
	}, out)
}

// wait delivers signals and resizes until cmd exits, then returns its
// Docker exit code. outputs, when given, are waited for (bounded).
func wait(ctx context.Context, cmd *exec.Cmd, stdio Stdio, resize func(frame.Size), outputs ...chan struct{}) (int, error) {
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-exited:
				return
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				return
			case n := <-stdio.Signal:
				_ = cmd.Process.Signal(syscall.Signal(n))
			case s := <-stdio.Resize:
				if resize != nil {
					resize(s)
				}
			}
		}
	}()
	err := cmd.Wait()
	close(exited)
	// No resize may touch the terminal after the caller closes it.
	<-stopped
	for _, o := range outputs {
		select {
		case <-o:
		case <-time.After(outputDrain):
		}
	}
	return exitCode(cmd, err)
}

// exitCode maps a finished command to Docker's exit code.
func exitCode(cmd *exec.Cmd, err error) (int, error) {
	if cmd.ProcessState == nil {
		return ExitCannotExecute, err
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

func startErrorCode(err error) int {
	if errors.Is(err, fs.ErrNotExist) {
		return ExitNotFound
	}
	return ExitCannotExecute
}

// lookPath finds name as runc does: a name with a slash is used as is
// (relative to dir), anything else is searched in pathEnv. It returns
// 127 for a missing command and 126 for one that is not executable.
func lookPath(name, pathEnv, dir string) (string, int, error) {
	check := func(p string) (int, error) {
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, full)
		}
		st, err := os.Stat(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return ExitNotFound, fmt.Errorf("exec: %q: %w", name, err)
			}
			return ExitCannotExecute, fmt.Errorf("exec: %q: %w", name, err)
		}
		if st.IsDir() {
			return ExitCannotExecute, fmt.Errorf("exec: %q: is a directory", name)
		}
		if st.Mode()&0o111 == 0 {
			return ExitCannotExecute, fmt.Errorf("exec: %q: permission denied", name)
		}
		return 0, nil
	}
	if strings.Contains(name, "/") {
		if code, err := check(name); err != nil {
			return "", code, err
		}
		if !filepath.IsAbs(name) {
			return filepath.Join(dir, name), 0, nil
		}
		return name, 0, nil
	}
	notExec := error(nil)
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		code, err := check(p)
		if err == nil {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return p, 0, nil
		}
		if code == ExitCannotExecute && notExec == nil {
			notExec = err
		}
	}
	if notExec != nil {
		return "", ExitCannotExecute, notExec
	}
	return "", ExitNotFound, fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// credential resolves Docker's user forms: name, uid, name:group,
// uid:gid. It returns nil when the process may keep the agent's identity.
func credential(spec string) (*syscall.Credential, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, gid := -1, -1
	var pw *user.User
	if n, err := strconv.Atoi(u); err == nil {
		uid = n
		if p, err := user.LookupId(u); err == nil {
			pw = p
			gid, _ = strconv.Atoi(pw.Gid)
		}
	} else {
		p, err := user.Lookup(u)
		if err != nil {
			return nil, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
		}
		pw = p
		uid, _ = strconv.Atoi(pw.Uid)
		gid, _ = strconv.Atoi(pw.Gid)
	}
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else {
			gr, err := user.LookupGroup(g)
			if err != nil {
				return nil, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
			}
			gid, _ = strconv.Atoi(gr.Gid)
		}
	}
	if gid < 0 {
		gid = 0 // Docker: a uid without a passwd entry runs in group root
	}
	if uid == os.Getuid() && gid == os.Getgid() {
		return nil, nil
	}
	if os.Getuid() != 0 {
		return nil, fmt.Errorf("cannot run as user %s: the agent is not running as root", spec)
	}
	// Supplementary groups as Docker sets them: the primary group and
	// every group of /etc/group that lists the user.
	groups := []uint32{uint32(gid)}
	if pw != nil {
		if ids, err := pw.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil && n != gid {
					groups = append(groups, uint32(n))
				}
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v
		}
	}
	return ""
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// HomeOf is the HOME a process running as spec ("name", "uid",
// "name:group"; empty is the agent's own user) gets when its environment
// sets none, as runc gives it: the user's home folder in /etc/passwd, or
// "/" when the user has no entry.
func HomeOf(spec string) string {
	u, _, _ := strings.Cut(spec, ":")
	var pw *user.User
	var err error
	switch n, aerr := strconv.Atoi(u); {
	case u == "":
		pw, err = user.LookupId(strconv.Itoa(os.Getuid()))
	case aerr == nil:
		pw, err = user.LookupId(strconv.Itoa(n))
	default:
		pw, err = user.Lookup(u)
	}
	if err != nil || pw.HomeDir == "" {
		return "/"
	}
	return pw.HomeDir
}
