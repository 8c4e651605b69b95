package integration

import (
	"testing"

	"github.com/sockerless/sockerless/internal/embedded"
)

// BenchmarkCLIRunRm times `docker run --rm alpine:3.20 true` end to end
// through the real CLI, the shim, functions, the relay (attach) and the
// synthetic provider (which holds each main process 50 ms).
func BenchmarkCLIRunRm(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	s.docker(b, "", "pull", "alpine:3.20")
	for b.Loop() {
		if out, rc := s.docker(b, "", "run", "--rm", "alpine:3.20", "true"); rc != 0 {
			b.Fatalf("run: %d %s", rc, out)
		}
	}
}

// BenchmarkCLIPs times `docker ps -a` end to end with 50 containers.
func BenchmarkCLIPs(b *testing.B) {
	s := startServer(b, embedded.Options{Synthetic: true})
	s.docker(b, "", "pull", "alpine:3.20")
	for i := 0; i < 50; i++ {
		s.docker(b, "", "create", "alpine:3.20", "true")
	}
	for b.Loop() {
		if out, rc := s.docker(b, "", "ps", "-a"); rc != 0 {
			b.Fatalf("ps: %d %s", rc, out)
		}
	}
}
