package docker_test

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// onEngine runs the docker CLI against the engine itself and returns its
// trimmed output.
func (s *sockerless) onEngine(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = s.eng.Env()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s on the engine: %v: %s", strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b))
}

// TestHostConfigOnEngine: the HostConfig settings the engine applies
// reach the engine container, so the workload sees them as on Docker.
func TestHostConfigOnEngine(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string // substrings of stdout and stderr
	}{
		{"read-only root", []string{"--read-only", "busybox", "touch", "/x"}, 1, "", "Read-only file system"},
		{"tmpfs", []string{"--tmpfs", "/scratch", "busybox", "sh", "-c", "grep ' /scratch ' /proc/mounts"}, 0, "tmpfs /scratch tmpfs", ""},
		{"read-only with a writable tmpfs", []string{"--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c", "touch /tmp/x && echo ok"}, 0, "ok", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := s.docker(t, "", append([]string{"run", "--rm"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d (want %d)\nstdout: %q (want %q)\nstderr: %q (want %q)", code, tc.code, out, tc.out, errOut, tc.err)
			}
		})
	}
	// Limits: as the engine container's own HostConfig shows them.
	id := strings.TrimSpace(s.ok(t, "run", "-d", "--memory", "64m", "--pids-limit", "64", "--ulimit", "nofile=100:200", "busybox", "sleep", "300"))
	t.Cleanup(func() { s.docker(t, "", "rm", "-f", id) })
	got := s.onEngine(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}", "sockerless-"+id)
	if want := "67108864 64 nofile=100:200"; got != want {
		t.Fatalf("engine HostConfig limits: %q, want %q", got, want)
	}
}

// TestUserNetworkOnEngine: a user network is an engine network too, and
// a container on it answers to its name and aliases through the engine's
// DNS (ping needs a real address: a name carried by a proxy is not
// enough); the engine network goes with the last container on it.
func TestUserNetworkOnEngine(t *testing.T) {
	s := start(t)
	s.ok(t, "network", "create", "en-net")
	t.Cleanup(func() {
		s.docker(t, "", "rm", "-f", "en-srv")
		s.docker(t, "", "network", "rm", "en-net")
	})
	s.ok(t, "run", "-d", "--name", "en-srv", "--network", "en-net", "--network-alias", "db", "busybox", "sleep", "300")
	for _, name := range []string{"en-srv", "db"} {
		out := s.ok(t, "run", "--rm", "--network", "en-net", "busybox", "sh", "-c", "ping -c1 -W2 "+name+" >/dev/null && echo reached")
		if out != "reached\n" {
			t.Fatalf("ping %s: %q", name, out)
		}
	}
	if nets := s.onEngine(t, "network", "ls", "-q", "--filter", "label=dev.sockerless.network"); nets == "" {
		t.Fatal("no engine network for en-net")
	}
	s.ok(t, "rm", "-f", "en-srv")
	s.waitEngine(t, func() bool {
		return s.onEngine(t, "network", "ls", "-q", "--filter", "label=dev.sockerless.network") == ""
	}, "type=network", "event=destroy")
}

// TestTaggedImageOnEngine: a tag made through Sockerless (which the
// engine does not have) runs the engine image it names.
func TestTaggedImageOnEngine(t *testing.T) {
	s := start(t)
	s.ok(t, "tag", "busybox", "et-tagged:1")
	t.Cleanup(func() { s.docker(t, "", "rmi", "et-tagged:1") })
	if out := s.ok(t, "run", "--rm", "et-tagged:1", "echo", "tagged"); out != "tagged\n" {
		t.Fatalf("run: %q", out)
	}
	if out := s.onEngine(t, "images", "-q", "et-tagged"); out != "" {
		t.Fatalf("the tag reached the engine: %q", out)
	}
}

// TestTopRightAfterRun: docker top right after docker run -d lists the
// main process (the agent, wrapping it, is left out), as Docker's does
// once its start has answered.
func TestTopRightAfterRun(t *testing.T) {
	s := start(t)
	for i := range 3 {
		id := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sleep", "300"))
		out := s.ok(t, "top", id)
		s.ok(t, "rm", "-f", id)
		if !strings.Contains(out, "sleep 300") || strings.Contains(out, "sockerless-agent") {
			t.Fatalf("run %d: top: %q", i, out)
		}
	}
}

// waitEngine waits until done() holds, re-checking after each engine
// event matching filters (the provider removes engine containers and
// networks in the background once Sockerless's record is gone): no
// polling interval, a bounded wait.
func (s *sockerless) waitEngine(t testing.TB, done func() bool, filters ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not get there within a minute")
		}
		// Events since a second before the check, so none is missed
		// between the check and the subscription.
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		args := []string{"events", "--since", since, "--format", "{{.Type}} {{.Action}}"}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = s.eng.Env()
		out, err := cmd.StdoutPipe()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		bufio.NewReader(out).ReadString('\n') // one event, or the timeout
		cancel()
		_ = cmd.Wait()
	}
}
