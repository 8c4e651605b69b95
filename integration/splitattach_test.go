package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSplitModeRunOutput runs the three split-mode binaries on loopback
// with the memory provider and checks that `docker run --rm` never loses
// the output of a command that finishes at once: the attach session must
// be in place before the CLI's start, although it crosses the network
// relay, and the container's automatic removal must not overtake it.
func TestSplitModeRunOutput(t *testing.T) {
	e := slSetup(t)
	port := mrFreePort(t)
	mrStart(t, "functions", e.bin+"/sockerless-functions", append(e.functionsEnv(), "PORT="+port, "SOCKERLESS_TOKEN=split-token")...)
	url := "http://127.0.0.1:" + port
	waitHTTP(t, url+"/_ping", "")
	r := e.shim(t, url, "SOCKERLESS_TOKEN=split-token")
	r.mustDocker(t, "pull", "alpine:3.20")
	// docker build works in split mode too: the wrapped memory provider
	// still runs the steps and keeps the layers.
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM alpine:3.20\nRUN echo built > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.mustDocker(t, "build", "-t", "built:1", ctxDir)
	if out := r.mustDocker(t, "run", "--rm", "built:1"); out != "built\n" {
		t.Fatalf("docker run --rm built:1 = %q, want %q", out, "built\n")
	}
	for i := range 20 {
		out, code := r.docker(t, "run", "--rm", "alpine:3.20", "sh", "-c", "echo tick; exit 3")
		if code != 3 || out != "tick\n" {
			t.Fatalf("run %d: docker run --rm = exit %d, output %q; want exit 3, output %q", i, code, out, "tick\n")
		}
	}
}
