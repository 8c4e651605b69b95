package docker_test

// Side-by-side costs of the docker provider, in one run:
//
//	go test ./providers/docker/ -run '^$' -bench . -benchtime 20x
//
// BenchmarkRunRm: `docker run --rm busybox true` on the reference engine
// directly, through Sockerless's docker provider, and on the memory
// provider. BenchmarkExec: `docker exec ID true` the same three ways (the
// docker provider's exec takes the relay and agent path; the engine's is
// its own runc exec). Both include the CLI's own start-up.

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// target is one place the docker CLI is pointed at.
type target struct {
	name string
	env  []string
}

func benchTargets(b *testing.B) []target {
	b.Helper()
	eng := engine.Get(b)
	docker := start(b)
	mem := startMemory(b)
	return []target{
		{"engine", eng.Env()},
		{"docker-provider", append(os.Environ(), "DOCKER_HOST="+docker.host, "DOCKER_CONFIG="+docker.config)},
		{"memory-provider", append(os.Environ(), "DOCKER_HOST="+mem.host, "DOCKER_CONFIG="+mem.config)},
	}
}

// startMemory starts an embedded Sockerless with the memory provider (the
// default) and pulls busybox there.
func startMemory(tb testing.TB) *sockerless {
	tb.Helper()
	dir := tb.TempDir()
	s, err := embedded.New(context.Background(), embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler}
	go srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.Close()
	})
	sl := &sockerless{host: "unix://" + filepath.Join(dir, "d.sock"), config: tb.TempDir()}
	sl.ok(tb, "pull", "-q", "busybox")
	return sl
}

func runCLI(b *testing.B, env []string, args ...string) string {
	b.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func BenchmarkRunRm(b *testing.B) {
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			runCLI(b, tg.env, "run", "--rm", "busybox", "true") // warm
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runCLI(b, tg.env, "run", "--rm", "busybox", "true")
			}
		})
	}
}

func BenchmarkExec(b *testing.B) {
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			id := strings.TrimSpace(runCLI(b, tg.env, "run", "-d", "busybox", "sleep", "600"))
			defer runCLI(b, tg.env, "rm", "-f", id)
			runCLI(b, tg.env, "exec", id, "true") // warm
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runCLI(b, tg.env, "exec", id, "true")
			}
		})
	}
}
