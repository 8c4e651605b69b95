package sandbox_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

func benchRun(b *testing.B, c *sandbox.Container, argv ...string) {
	b.Helper()
	code, err := c.Run(context.Background(), sandbox.Process{Argv: argv, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil || code != 0 {
		b.Fatalf("%q: %d %v", argv, code, err)
	}
}

// BenchmarkEchoCold: a new Sandbox with an empty compilation cache (the
// applets are compiled), then one `echo`.
func BenchmarkEchoCold(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		s, err := sandbox.New(ctx, sandbox.Options{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		benchRun(b, s.NewContainer(newContainer(b).FS()), "echo", "hi")
		s.Close(ctx)
	}
}

// BenchmarkEchoWarmStart: a new Sandbox loading the applets from the
// on-disk compilation cache (a process restart), then one `echo`.
func BenchmarkEchoWarmStart(b *testing.B) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "cache")
	s, err := sandbox.New(ctx, sandbox.Options{CacheDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	s.Close(ctx)
	fs := newContainer(b).FS()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := sandbox.New(ctx, sandbox.Options{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		benchRun(b, s.NewContainer(fs), "echo", "hi")
		s.Close(ctx)
	}
}

// BenchmarkEchoWarm: one `echo` applet in a running Sandbox (one
// WebAssembly instantiation).
func BenchmarkEchoWarm(b *testing.B) {
	c := newContainer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, "echo", "hi")
	}
}

// BenchmarkShellBuiltin: `sh -c 'echo hi'` (interpreter only, no Wasm).
func BenchmarkShellBuiltin(b *testing.B) {
	c := newContainer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, "sh", "-c", "echo hi")
	}
}

// BenchmarkPipeline: three applets in a shell pipeline.
func BenchmarkPipeline(b *testing.B) {
	c := newContainer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, "sh", "-c", "seq 1000 | grep 1 | wc -l")
	}
}

// BenchmarkCat10MB: `cat` of a 10 MB file to a discarding stdout.
func BenchmarkCat10MB(b *testing.B) {
	c := newContainer(b)
	f, err := os.Create(filepath.Join(c.FS().RootDir(), "big"))
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for i := 0; i < 10; i++ {
		f.Write(chunk)
	}
	f.Close()
	b.SetBytes(10 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, "cat", "/big")
	}
}

// benchFile makes a file of n MiB in a new container's root.
func benchFile(b *testing.B, n int) *sandbox.Container {
	c := newContainer(b)
	f, err := os.Create(filepath.Join(c.FS().RootDir(), "big"))
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	for i := 0; i < n; i++ {
		f.Write(chunk)
	}
	f.Close()
	b.SetBytes(int64(n) << 20)
	return c
}

// BenchmarkWc64MB: `wc -c` and `wc -l` of a 64 MiB file.
func BenchmarkWc64MB(b *testing.B) {
	c := benchFile(b, 64)
	for _, flag := range []string{"-c", "-l"} {
		b.Run(flag, func(b *testing.B) {
			b.SetBytes(64 << 20)
			for i := 0; i < b.N; i++ {
				benchRun(b, c, "wc", flag, "/big")
			}
		})
	}
}

// BenchmarkSha256sum64MB: `sha256sum` of a 64 MiB file.
func BenchmarkSha256sum64MB(b *testing.B) {
	c := benchFile(b, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, "sha256sum", "/big")
	}
}

// BenchmarkInstallApplets: the busybox layout of a layerless root (done
// at every create of a container from a layerless image).
func BenchmarkInstallApplets(b *testing.B) {
	cs := make([]*sandbox.Container, b.N)
	for i := range cs {
		cs[i] = newContainer(b)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sb.InstallApplets(cs[i].FS()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShellFunctionCalls is 20,000 shell function calls: what the
// per-command containment checks (memory charge of the variables, nesting
// depth) add to the interpreter.
func BenchmarkShellFunctionCalls(b *testing.B) {
	c := newContainer(b)
	c.SetLimits(sandbox.Limits{MemoryBytes: 256 << 20})
	for b.Loop() {
		if r := sh(b, c, `f(){ x=$1; }; i=0; while [ $i -lt 20000 ]; do f $i; i=$((i+1)); done; echo $x`); r.stdout != "19999\n" {
			b.Fatalf("got %+v", r)
		}
	}
}

// BenchmarkCPULimit: BenchmarkShellBuiltin and BenchmarkPipeline in a
// container with a CPU limit as large as the host (never throttled): the
// cost of running each goroutine's code on a thread moved into the
// container's cpu cgroup (cpu_linux.go). Where the host has no writable
// cgroup v1 cpu hierarchy the limit is not applied and this measures the
// same as the benchmarks without it.
func BenchmarkCPULimit(b *testing.B) {
	for _, bc := range []struct {
		name string
		argv []string
	}{
		{"ShellBuiltin", []string{"sh", "-c", "echo hi"}},
		{"Pipeline", []string{"sh", "-c", "seq 1000 | grep 1 | wc -l"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newContainer(b)
			c.SetLimits(sandbox.Limits{NanoCPUs: int64(runtime.NumCPU()) * 1e9})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchRun(b, c, bc.argv...)
			}
		})
	}
}

// BenchmarkShellEchoLoop is `for i in $(seq 10000); do echo x; done`
// into /dev/null, into a file and into a file under a quota: what
// running echo and printf as the sandbox's own built-ins when their
// output is a file (builtins.go) adds to the interpreter's.
func BenchmarkShellEchoLoop(b *testing.B) {
	for _, tc := range []struct{ name, to string }{
		{"devnull", "/dev/null"},
		{"file", "/f"},
		{"quota", "/t/f"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newContainer(b, rootfs.Mount{Target: "/t", Source: b.TempDir()})
			c.SetQuotas([]sandbox.Quota{{Target: "/t", Limit: 1 << 30}})
			script := `for i in $(seq 10000); do echo x; done > ` + tc.to
			for b.Loop() {
				if r := sh(b, c, script); r.code != 0 {
					b.Fatalf("got %+v", r)
				}
			}
		})
	}
}
