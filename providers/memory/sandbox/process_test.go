package sandbox_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// TestGuestEscapes has the container itself try to leave its root.
func TestGuestEscapes(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	vol := filepath.Join(tmp, "vol")
	for _, d := range []string{outside, vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("HOST SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symlink planted in the volume by another container or the host.
	if err := os.Symlink(secret, filepath.Join(vol, "planted-abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside/secret", filepath.Join(vol, "planted-rel")); err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, rootfs.Mount{Target: "/vol", Source: vol})
	scripts := []string{
		`cat ../outside/secret`,
		`cat /../../../../../` + secret,
		`cd / && cd .. && cd .. && cat ` + strings.TrimPrefix(secret, "/"),
		`ln -s ../outside/secret /esc; cat /esc`,
		`ln -s ../../../../../../../../` + strings.TrimPrefix(secret, "/") + ` /esc2; cat /esc2`,
		`ln -s ` + secret + ` /esc3; cat /esc3`,
		`cat /vol/planted-abs`,
		`cat /vol/planted-rel`,
		`cat < /vol/planted-abs`,
		`while read l; do echo $l; done < /esc3`,
		`ls ` + outside,
		`find / -name secret -exec cat {} \;`,
		`echo PWNED > /esc3; echo PWNED > /vol/planted-abs; cp /etc/passwd /vol/planted-rel`,
		`tar cf /tmp/x.tar /esc3 /vol 2>/dev/null; tar tvf /tmp/x.tar; tar xf /tmp/x.tar -C /tmp`,
		`cd /vol && cat planted-abs`,
	}
	for _, s := range scripts {
		r := sh(t, c, s)
		if strings.Contains(r.stdout+r.stderr, "HOST SECRET") || strings.Contains(r.stdout+r.stderr, "sockerless-") {
			t.Errorf("script %q leaked: %+v", s, r)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "HOST SECRET" {
		t.Fatalf("host file overwritten: %q", b)
	}
	// An image-style absolute symlink resolves inside the container.
	r := sh(t, c, `ln -s /etc/hostname /h; cat /h`)
	if r.stdout != "box\n" {
		t.Errorf("absolute symlink inside container: %+v", r)
	}
}

func TestTopLevelArgv(t *testing.T) {
	c := newContainer(t)
	tests := []struct {
		argv   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"echo", "a  b", "$HOME", "'q'"}, "", 0, "a  b $HOME 'q'\n", ""},
		{[]string{"cat"}, "piped\n", 0, "piped\n", ""},
		{[]string{"/bin/echo", "x"}, "", 0, "x\n", ""},
		{[]string{"sh"}, "echo from stdin\nexit 3\necho never\n", 3, "from stdin\n", ""},
		{[]string{"nosuch"}, "", 127, "", "sh: nosuch: not found\n"},
		{[]string{"/etc"}, "", 126, "", "Is a directory"},
		{[]string{"/etc/passwd"}, "", 126, "", "Permission denied"},
		{[]string{"false"}, "", 1, "", ""},
		{[]string{"sh", "-c", "exit 300"}, "", 44, "", ""},
		{[]string{"bash", "-c", `echo "$0 $1 $2"`, "name", "one", "two words"}, "", 0, "name one two words\n", ""},
		{[]string{"sh", "/nonexistent.sh"}, "", 127, "", "cannot open"},
		{[]string{"env"}, "", 0, "PATH=" + sandbox.DefaultPath + "\nHOME=/root\nPWD=/\n", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			r := run(t, c, tc.stdin, tc.argv...)
			if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("got %+v, want code=%d stdout=%q stderr~%q", r, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestSignals(t *testing.T) {
	c := newContainer(t)
	tests := []struct {
		argv []string
		sig  syscall.Signal
		code int
	}{
		{[]string{"sleep", "100"}, syscall.SIGTERM, 143},
		{[]string{"tail", "-f", "/dev/null"}, syscall.SIGKILL, 137},
		{[]string{"sh", "-c", "sleep 100; echo no"}, syscall.SIGINT, 130},
		{[]string{"sh", "-c", "while true; do :; done"}, syscall.SIGTERM, 143},
		{[]string{"sh", "-c", "cat | cat"}, syscall.SIGTERM, 143},
		{[]string{"cat"}, syscall.SIGKILL, 137},
		{[]string{"sh", "-c", "yes > /dev/null"}, syscall.SIGHUP, 129},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			p, err := c.Start(context.Background(), sandbox.Process{Argv: tc.argv, Stdin: pr})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			if len(c.Processes()) == 0 {
				t.Error("no processes listed while running")
			}
			if err := p.Signal(syscall.SIGWINCH); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Done():
				t.Fatal("SIGWINCH ended the process")
			default:
			}
			start := time.Now()
			if err := p.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("process did not end after signal")
			}
			code, _ := p.Wait()
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v to stop", d)
			}
		})
	}
	// Stop and context cancellation.
	p, err := c.Start(context.Background(), sandbox.Process{Argv: []string{"sleep", "100"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 143 {
		t.Errorf("stop: %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err = c.Start(ctx, sandbox.Process{Argv: []string{"sh", "-c", "sleep 100"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if code, _ := p.Wait(); code != 137 {
		t.Errorf("cancel: %d", code)
	}
	if err := p.Kill(); err != sandbox.ErrFinished {
		t.Errorf("kill after exit: %v", err)
	}
	if n := len(c.Processes()); n != 0 {
		t.Errorf("%d processes left: %+v", n, c.Processes())
	}
}

func TestTTYAndStats(t *testing.T) {
	c := newContainer(t)
	var out bytes.Buffer
	code, err := c.Run(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", "echo a; echo b >&2"}, Stdout: &out, Tty: true})
	if err != nil || code != 0 || out.String() != "a\r\nb\r\n" {
		t.Fatalf("tty: %d %v %q", code, err, out.String())
	}
	st := c.Stats()
	if st.BytesOut == 0 || st.CPUNanos == 0 {
		t.Errorf("stats not counted: %+v", st)
	}
	// User ids.
	var idOut bytes.Buffer
	_, _ = c.Run(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", "id -u; echo $UID"}, Stdout: &idOut, UID: 65534, GID: 65534})
	if idOut.String() != "65534\n65534\n" {
		t.Errorf("uid: %q", idOut.String())
	}
	// Working directory.
	var wd bytes.Buffer
	_, _ = c.Run(context.Background(), sandbox.Process{Argv: []string{"pwd"}, Dir: "/etc", Stdout: &wd})
	if wd.String() != "/etc\n" {
		t.Errorf("pwd: %q", wd.String())
	}
	if _, err := c.Start(context.Background(), sandbox.Process{Argv: []string{"pwd"}, Dir: "/nonexistent"}); err == nil {
		t.Error("start in a missing directory succeeded")
	}
}

func TestSharedVolume(t *testing.T) {
	vol := t.TempDir()
	a := newContainer(t, rootfs.Mount{Target: "/shared", Source: vol})
	b := newContainer(t, rootfs.Mount{Target: "/data", Source: vol})
	if r := sh(t, a, "echo from-a > /shared/f; mv /shared/f /tmp/moved && cat /tmp/moved && mv /tmp/moved /shared/f"); r.code != 0 || r.stdout != "from-a\n" {
		t.Fatalf("a: %+v", r)
	}
	if r := sh(t, b, "cat /data/f"); r.stdout != "from-a\n" {
		t.Fatalf("b: %+v", r)
	}
}

func TestWasiBinaryAndPIDs(t *testing.T) {
	c := newContainer(t)
	code, err := os.ReadFile("applets.wasm")
	if err != nil {
		t.Fatal(err)
	}
	// A WASI program shipped in the image (here: the applets under a
	// non-standard path, dispatching on its base name).
	if err := c.FS().MkdirAll("/opt", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.FS().WriteFile("/opt/echo", code, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := run(t, c, "", "/opt/echo", "from", "wasm"); r.code != 0 || r.stdout != "from wasm\n" {
		t.Fatalf("wasi binary: %+v", r)
	}
	p, err := c.Start(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", "sleep 5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	time.Sleep(200 * time.Millisecond)
	ps := c.Processes()
	if len(ps) != 2 || ps[0].PID != p.PID() || ps[1].PPID != p.PID() || ps[1].Argv[0] != "sleep" {
		t.Fatalf("process list %+v (main pid %d)", ps, p.PID())
	}
	if st := c.Stats(); st.PIDs != 2 || st.MemoryBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTerminal: with Tty, a command whose stdin or stdout is the terminal
// sees it (tty, test -t, [ -t ] in the shell); through a pipe, a
// redirection or a command substitution it does not; without Tty nothing
// is a terminal.
func TestTerminal(t *testing.T) {
	c := newContainer(t)
	script := `tty; [ -t 0 ] && echo in0; [ -t 1 ] && echo out1; test -t 2 && echo err2
test -t 1 && echo applet-t1; /bin/[ -t 0 ] && echo applet-t0
echo x | tty; tty > /tmp/t; cat /tmp/t; test -t 1 > /tmp/u || echo redirected; echo "sub=$(tty; [ -t 1 ] && echo yes)"
[ -t 1 ] | cat; read line; echo "read=$line"; sh -c 'tty; [ -t 0 ] && echo nested'`
	var out bytes.Buffer
	code, err := c.Run(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", script}, Stdin: strings.NewReader("typed\n"), Stdout: &out, Tty: true})
	want := "/dev/pts/0\nin0\nout1\nerr2\napplet-t1\napplet-t0\nnot a tty\n/dev/pts/0\nredirected\nsub=/dev/pts/0\nread=typed\n/dev/pts/0\nnested\n"
	if got := strings.ReplaceAll(out.String(), "\r\n", "\n"); err != nil || code != 0 || got != want {
		t.Errorf("tty: %d %v\n%s\nwant\n%s", code, err, got, want)
	}
	out.Reset()
	code, _ = c.Run(context.Background(), sandbox.Process{Argv: []string{"sh", "-c", "tty; [ -t 0 ] || [ -t 1 ] || echo none"}, Stdin: strings.NewReader(""), Stdout: &out})
	if code != 0 || out.String() != "not a tty\nnone\n" {
		t.Errorf("no tty: %d %q", code, out.String())
	}
}
