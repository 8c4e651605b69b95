package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestRestartOnSharedStore is issue 12's finding 13: sockerless-functions
// is killed (-9) and started again on the same DynamoDB. Its workloads
// died with it, without exit reports. Reconciled, as Docker reports
// containers after a daemon crash: an exec into one answers at once that
// it is not running (it used to hang 120 s and exit 0), the sweep records
// the others as exited (255), and a created container, and a stopped one,
// start again.
func TestRestartOnSharedStore(t *testing.T) {
	endpoint := emulators.StartDynamoDB(t)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := "dynamodb://sockerless-restart?region=us-east-1&endpoint=" + endpoint
	common := []string{"SOCKERLESS_SECRET=restart-secret", "SOCKERLESS_TOKEN=restart-token"}
	rport := mrFreePort(t)
	mrStart(t, "relay", dir+"/sockerless-relay", append(common, "PORT="+rport)...)
	fport := mrFreePort(t)
	startFunctions := func(name string) *exec.Cmd {
		cmd := exec.Command(dir + "/sockerless-functions")
		cmd.Env = append(append(os.Environ(), common...), "PORT="+fport, "SOCKERLESS_STATE="+state,
			"SOCKERLESS_PROVIDER=memory", "SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+rport,
			// Gone as soon as the relay saw the agent leave (the test waits
			// for that); the default waits 30 s for a reconnect.
			"SOCKERLESS_WORKLOAD_LOST_AFTER=1ms")
		log := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("functions %s log:\n%s", name, log.String())
			}
		})
		mrWait(t, "functions "+name, 90*time.Second, func() error {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+fport+"/_ping", nil)
			req.Header.Set("Authorization", "Bearer restart-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		return cmd
	}
	first := startFunctions("A")
	sock := filepath.Join(dir, "d.sock")
	mrStart(t, "shim", dir+"/sockerless", append(common,
		"SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:"+fport, "SOCKERLESS_LISTEN=unix://"+sock)...)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	mrWait(t, "shim", 30*time.Second, func() error {
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
	r := runner{name: "shim", sock: sock, cfg: cfg}

	r.mustDocker(t, "pull", "alpine:3.20")
	r.mustDocker(t, "run", "-d", "--name", "up", "alpine:3.20", "sleep", "600")
	r.mustDocker(t, "run", "-d", "--name", "busy", "alpine:3.20", "sleep", "600")
	r.mustDocker(t, "create", "--name", "later", "alpine:3.20", "sh", "-c", "exit 3")
	if out := r.mustDocker(t, "exec", "busy", "echo", "alive"); strings.TrimSpace(out) != "alive" {
		t.Fatalf("exec before the crash = %q", out)
	}

	// kill -9, and wait until the relay has seen every agent go.
	_ = first.Process.Kill()
	_ = first.Wait()
	mrWait(t, "agents gone from the relay", 60*time.Second, func() error {
		resp, err := http.Get("http://127.0.0.1:" + rport + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "\nsockerless_relay_agents_connected 0\n") {
			return fmt.Errorf("agents still connected")
		}
		return nil
	})
	startFunctions("A2")

	// An exec answers at once, with a reason, and fails.
	began := time.Now()
	out, code := r.docker(t, "exec", "busy", "echo", "alive")
	if code == 0 || !strings.Contains(out, "not running") {
		t.Fatalf("exec into a container whose workload died: exit %d, %q; want a failure saying it is not running", code, out)
	}
	t.Logf("exec answered in %v: %s", time.Since(began).Round(time.Millisecond), strings.TrimSpace(out))

	// The scheduler's sweep reconciles the rest.
	resp, err := client.Post("http://d/_sockerless/sweep", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sweep: %s %s", resp.Status, body)
	}
	for _, name := range []string{"up", "busy"} {
		if got := strings.TrimSpace(r.mustDocker(t, "inspect", name, "--format", "{{.State.Status}} {{.State.ExitCode}}")); got != "exited 255" {
			t.Fatalf("%s after the sweep: %q, want exited 255", name, got)
		}
	}
	if out := r.mustDocker(t, "ps", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("docker ps lists containers whose workloads are gone:\n%s", out)
	}

	// Created and stopped containers start again on the new instance.
	r.mustDocker(t, "start", "later")
	if out := strings.TrimSpace(r.mustDocker(t, "wait", "later")); out != "3" {
		t.Fatalf("docker wait later = %q, want 3", out)
	}
	r.mustDocker(t, "start", "up")
	if out := r.mustDocker(t, "exec", "up", "echo", "back"); strings.TrimSpace(out) != "back" {
		t.Fatalf("exec after restarting up = %q", out)
	}
}
