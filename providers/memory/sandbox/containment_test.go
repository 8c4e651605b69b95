package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// noMemoryModule is the 36-byte WASI command of issue 12 finding 1: it
// declares no memory, which made the memory sampler dereference nil and
// end the daemon.
const noMemoryModule = "\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b"

func writeModule(t testing.TB, c *sandbox.Container, name string, code []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.FS().RootDir(), name), code, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestModuleWithoutMemory(t *testing.T) {
	c := newContainer(t)
	writeModule(t, c, "x", []byte(noMemoryModule))
	// It is refused (WASI commands export their memory), and the
	// sandbox serves on.
	if r := run(t, c, "", "/x"); r.code != 126 || !strings.Contains(r.stderr, "exports no memory") {
		t.Fatalf("code %d, stderr %q", r.code, r.stderr)
	}
	if r := sh(t, c, "/x; echo after=$?"); r.stdout != "after=126\n" {
		t.Fatalf("got %+v", r)
	}
}

// FuzzRunModule runs arbitrary module bytes as a container's program:
// whatever the bytes, the process ends with a status and the sandbox
// keeps serving. Corpus: testdata/fuzz/FuzzRunModule.
func FuzzRunModule(f *testing.F) {
	f.Add([]byte(noMemoryModule))
	c := newContainer(f)
	f.Fuzz(func(t *testing.T, code []byte) {
		if len(code) < 4 || string(code[:4]) != "\x00asm" {
			code = append([]byte("\x00asm"), code...)
		}
		writeModule(t, c, "m", code)
		_ = run(t, c, "", "/m")
		if r := sh(t, c, "echo alive"); r.stdout != "alive\n" {
			t.Fatalf("sandbox no longer serves: %+v", r)
		}
	})
}

func TestShellRecursionFails(t *testing.T) {
	c := newContainer(t)
	r := sh(t, c, `n=0; f(){ n=$((n+1)); echo $n; f; }; f; echo after`)
	if r.code != 1 || !strings.Contains(r.stderr, "maximum function nesting level exceeded") {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	lines := strings.Fields(r.stdout)
	depth, _ := strconv.Atoi(lines[len(lines)-1])
	t.Logf("recursion stopped at depth %d", depth)
	if depth < 200 || depth > 5000 || strings.Contains(r.stdout, "after") {
		t.Fatalf("stopped at depth %d; stdout tail %q", depth, r.stdout[max(0, len(r.stdout)-40):])
	}
	// Deep but bounded recursion still works.
	if r := sh(t, c, `f(){ if [ $1 -gt 0 ]; then f $(($1-1)); else echo bottom; fi; }; f 100`); r.stdout != "bottom\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestMemoryLimitKills(t *testing.T) {
	tests := []struct{ name, script string }{
		{"shell-string", `s=x; while :; do s="$s$s"; done`},
		{"applet", `i=0; while [ $i -lt 30 ]; do i=$((i+1)); done; yes | head -c 100000000 | sort >/dev/null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContainer(t)
			c.SetLimits(sandbox.Limits{MemoryBytes: 32 << 20})
			r := sh(t, c, tc.script)
			if r.code != 137 || !c.OOMKilled() {
				t.Fatalf("code %d, OOMKilled %v, stderr %q", r.code, c.OOMKilled(), r.stderr)
			}
			if m := c.MemoryBytes(); m != 0 {
				t.Fatalf("%d bytes still charged after every process ended", m)
			}
		})
	}
	c := newContainer(t)
	c.SetLimits(sandbox.Limits{MemoryBytes: 64 << 20})
	if r := sh(t, c, `s=x; for i in 1 2 3 4 5 6 7 8 9 10; do s="$s$s"; done; echo ${#s}; seq 3 | sort -r`); r.code != 0 || r.stdout != "1024\n3\n2\n1\n" || c.OOMKilled() {
		t.Fatalf("within the limit: %+v", r)
	}
}

func TestPIDsLimit(t *testing.T) {
	c := newContainer(t)
	c.SetLimits(sandbox.Limits{PIDs: 4})
	// The shell is one process; three sleeps fit, the fourth cannot start.
	// Six processes (the shell and five in a pipeline whose data outgrows
	// the pipes, so all of them are alive at once): at least one fails.
	r := sh(t, c, `set -o pipefail; yes | head -c 1000000 | cat | cat | wc -c; echo rc=$?`)
	if !strings.Contains(r.stdout, "rc=2") || !strings.Contains(r.stderr, "Resource temporarily unavailable") {
		t.Fatalf("got %+v", r)
	}
}

func TestNoFileLimit(t *testing.T) {
	c := newContainer(t)
	c.SetLimits(sandbox.Limits{NoFile: 8})
	var files []string
	for i := range 20 {
		files = append(files, fmt.Sprintf("/tmp/f%d", i))
	}
	r := sh(t, c, "echo x | tee "+strings.Join(files, " ")+" >/dev/null; echo rc=$?; echo y | tee /tmp/a /tmp/b")
	if !strings.Contains(r.stdout, "rc=1") || !strings.Contains(r.stderr, "/tmp/f19: Try again") || !strings.HasSuffix(r.stdout, "y\n") {
		t.Fatalf("got %+v", r)
	}
	if n := c.OpenFiles(); n != 0 {
		t.Fatalf("%d files still counted open", n)
	}
}

func TestShellSeesContainerOnly(t *testing.T) {
	c := newContainer(t)
	if err := os.MkdirAll(filepath.Join(c.FS().RootDir(), "home/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(c.FS().RootDir(), "etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, "app:x:1000:1000::/home/app:/bin/sh")
	f.Close()
	hostOnly, _ := os.Executable() // a file on the host, absent from the container
	tests := []struct{ name, script, stdout string }{
		{"tilde-known", `echo ~root ~app`, "/root /home/app\n"},
		{"tilde-unknown", `echo ~daemon ~www-data/x`, "~daemon ~www-data/x\n"},
		{"type-p-host", `type -p go git ` + hostOnly + `; echo rc=$?`, "rc=1\n"},
		{"type-p-applet", `type -p ls`, "/bin/ls\n"},
		{"type-t", `type -t ls cd if`, "file\nbuiltin\nkeyword\n"},
		{"command-v-host", `command -v ` + hostOnly + ` /usr/bin/git || echo absent`, "absent\n"},
		{"source-oracle", `PATH=` + filepath.Dir(hostOnly) + ` . ` + filepath.Base(hostOnly) + ` 2>&1 | sed 's/:.*//'; PATH=/nonexistent . nosuchfile 2>&1 | sed 's/:.*//'`, "source\nsource\n"},
	}
	// The first process of a container is PID 1, as Docker shows it.
	fresh := newContainer(t)
	if r := sh(t, fresh, `echo $$ ${$}; sh -c 'echo $PPID'; (echo $$)`); r.stdout != "1 1\n1\n1\n" {
		t.Fatalf("pids: %+v", r)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := sh(t, c, tc.script); r.stdout != tc.stdout {
				t.Fatalf("got %+v, want stdout %q", r, tc.stdout)
			}
		})
	}
}

func TestRealValues(t *testing.T) {
	c := newContainer(t)
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if machine == "" {
		machine = runtime.GOARCH
	}
	tests := []struct{ name, script, want string }{
		{"ps", `sh -c ps`, "sh -c ps\n"},
		{"ps-self", `ps | grep -c ' ps$'`, "1\n"},
		{"uname-m", `uname -m; arch`, machine + "\n" + machine + "\n"},
		{"nproc", `nproc`, strconv.Itoa(runtime.NumCPU()) + "\n"},
		{"df", `df / | tail -n 1 | tr -s ' ' | cut -d ' ' -f 2`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sh(t, c, tc.script)
			switch tc.name {
			case "ps":
				if !strings.Contains(r.stdout, tc.want) || !strings.Contains(r.stdout, "    1 root") {
					t.Fatalf("got %+v", r)
				}
			case "df":
				var st syscall.Statfs_t
				if err := syscall.Statfs(c.FS().RootDir(), &st); err != nil {
					t.Fatal(err)
				}
				if want := strconv.FormatUint(st.Blocks*uint64(st.Bsize)/1024, 10) + "\n"; r.stdout != want {
					t.Fatalf("got %+v, want %q", r, want)
				}
			default:
				if r.stdout != tc.want {
					t.Fatalf("got %+v, want %q", r, tc.want)
				}
			}
		})
	}
}

func TestPipelineFanOutBounded(t *testing.T) {
	c := newContainer(t)
	c.SetLimits(sandbox.Limits{NoFile: 64})
	// A fork bomb of shell functions, bounded here to 2^12 leaves: the
	// stages past the container's pipe budget fail instead of piling up.
	// (Pipeline stages write stderr concurrently: a locked buffer.)
	var out, errb lockedBuffer
	code, err := c.Run(context.Background(), sandbox.Process{
		Argv:   []string{"sh", "-c", `f(){ [ $1 -gt 0 ] && { f $(($1-1)) | f $(($1-1)); }; sleep 0; }; f 12; echo done`},
		Stdout: &out, Stderr: &errb,
	})
	stdout, stderr := out.String(), errb.String()
	if err != nil || !strings.Contains(stderr, "Too many open files") || !strings.HasSuffix(stdout, "done\n") {
		t.Fatalf("code %d err %v stdout %q stderr tail %q", code, err, stdout, stderr[max(0, len(stderr)-200):])
	}
	if n := c.OpenFiles(); n != 0 {
		t.Fatalf("%d files still counted open", n)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestGoroutineCeiling(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	if out, err := exec.Command("cp", "-r", filepath.Join(os.TempDir(), "sockerless-sandbox-test-cache"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	s, err := sandbox.New(ctx, sandbox.Options{CacheDir: dir, MaxGoroutines: runtime.NumGoroutine() + 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	fs, err := rootfs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	c := s.NewContainer(fs)
	// Background jobs of functions, 2^10 at the widest, bounded here:
	// past the ceiling, commands fail and the shell goes on.
	var out, errb lockedBuffer
	code, err := c.Run(ctx, sandbox.Process{
		Argv:   []string{"sh", "-c", `f(){ [ $1 -gt 0 ] && { f $(($1-1)) & f $(($1-1)) & wait; }; }; f 10; echo done`},
		Stdout: &out, Stderr: &errb,
	})
	if err != nil || !strings.Contains(errb.String(), "can't fork") || !strings.HasSuffix(out.String(), "done\n") {
		t.Fatalf("code %d err %v stdout %q stderr %.200q", code, err, out.String(), errb.String())
	}
}
