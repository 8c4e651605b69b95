package integration

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSplitModeRunOutput runs the three split-mode binaries on loopback
// with the memory provider and checks that `docker run --rm` never loses
// the output of a command that finishes at once: the attach session must
// be in place before the CLI's start, although it crosses the network
// relay, and the container's automatic removal must not overtake it.
func TestSplitModeRunOutput(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	common := []string{"SOCKERLESS_SECRET=split-secret", "SOCKERLESS_TOKEN=split-token"}
	rport, fport := mrFreePort(t), mrFreePort(t)
	mrStart(t, "relay", dir+"/sockerless-relay", append(common, "PORT="+rport)...)
	mrStart(t, "functions", dir+"/sockerless-functions", append(common, "PORT="+fport,
		"SOCKERLESS_STATE=memory", "SOCKERLESS_PROVIDER=memory",
		"SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+rport)...)
	mrWait(t, "functions", 60*time.Second, func() error {
		resp, err := http.Get("http://127.0.0.1:" + fport + "/_ping")
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	sock := filepath.Join(dir, "d.sock")
	mrStart(t, "shim", dir+"/sockerless", append(common,
		"SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:"+fport, "SOCKERLESS_LISTEN=unix://"+sock)...)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	mrWait(t, "shim", 60*time.Second, func() error {
		resp, err := client.Get("http://d/_ping")
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	cfg := filepath.Join(dir, "dockercfg")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	r := runner{name: "split", sock: sock, cfg: cfg}
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
