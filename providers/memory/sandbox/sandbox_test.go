package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// sb is shared by the tests: compiling the applets is the slow part.
var sb *sandbox.Sandbox

func TestMain(m *testing.M) {
	ctx := context.Background()
	cache := filepath.Join(os.TempDir(), "sockerless-sandbox-test-cache")
	var err error
	sb, err = sandbox.New(ctx, sandbox.Options{CacheDir: cache})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox.New:", err, "(run `make applets` first)")
		os.Exit(1)
	}
	code := m.Run()
	_ = sb.Close(ctx)
	os.Exit(code)
}

// newContainer makes a skeleton container with optional mounts.
func newContainer(t testing.TB, mounts ...rootfs.Mount) *sandbox.Container {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	fs, err := rootfs.New(root, mounts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	if err := rootfs.Skeleton(fs, rootfs.SkeletonOptions{Hostname: "box"}); err != nil {
		t.Fatal(err)
	}
	return sb.NewContainer(fs)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t testing.TB, c *sandbox.Container, stdin string, argv ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	p := sandbox.Process{Argv: argv, Stdout: &out, Stderr: &errb, Env: []string{"PATH=" + sandbox.DefaultPath}}
	if stdin != "" {
		p.Stdin = strings.NewReader(stdin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err := c.Run(ctx, p)
	if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return result{code, out.String(), errb.String()}
}

func sh(t testing.TB, c *sandbox.Container, script string) result {
	t.Helper()
	return run(t, c, "", "sh", "-c", script)
}

func TestSmoke(t *testing.T) {
	c := newContainer(t)
	r := run(t, c, "", "echo", "hello", "world")
	if r.code != 0 || r.stdout != "hello world\n" {
		t.Fatalf("echo: %+v", r)
	}
	r = sh(t, c, "echo a | cat; ls /etc | sort | head -3")
	t.Logf("%+v", r)
}

// TestCloseStopsRunningProcesses: Close ends running processes on their
// own goroutines before it closes the runtime (under -race, closing a
// module that still executes is a data race on its files), including one
// blocked reading stdin and one in a compute loop.
func TestCloseStopsRunningProcesses(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.New(ctx, sandbox.Options{CacheDir: filepath.Join(os.TempDir(), "sockerless-sandbox-test-cache")})
	if err != nil {
		t.Fatal(err)
	}
	c := sb.NewContainer(newContainer(t).FS())
	stdin, _ := io.Pipe()
	var procs []*sandbox.Proc
	for _, p := range []sandbox.Process{
		{Argv: []string{"sleep", "300"}},
		{Argv: []string{"cat"}, Stdin: stdin},
		{Argv: []string{"sh", "-c", "while :; do echo x >/dev/null; done"}},
		{Argv: []string{"yes"}, Stdout: io.Discard},
	} {
		pr, err := c.Start(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, pr)
	}
	time.Sleep(200 * time.Millisecond)
	if err := sb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, pr := range procs {
		select {
		case <-pr.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("process %d still running after Close", i)
		}
		if code, _ := pr.Wait(); code != 137 {
			t.Errorf("process %d: exit %d, want 137", i, code)
		}
	}
}
