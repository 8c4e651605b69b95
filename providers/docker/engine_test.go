package docker_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		{"pids limit", []string{"--pids-limit", "64", "busybox", "cat", "/sys/fs/cgroup/pids.max"}, 0, "64", ""},
		{"memory limit", []string{"--memory", "64m", "busybox", "cat", "/sys/fs/cgroup/memory.max"}, 0, "67108864", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := s.docker(t, "", append([]string{"run", "--rm"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d (want %d)\nstdout: %q (want %q)\nstderr: %q (want %q)", code, tc.code, out, tc.out, errOut, tc.err)
			}
		})
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
	if nets := s.onEngine(t, "network", "ls", "-q", "--filter", "label=dev.sockerless.network"); nets != "" {
		t.Fatalf("engine network left after its last container: %s", nets)
	}
}

// TestBuiltImageOnEngine: an image Sockerless built (instructions that
// add no layer) runs on the engine with the base image's filesystem and
// its own configuration.
func TestBuiltImageOnEngine(t *testing.T) {
	s := start(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nENV X=built\nCMD [\"sh\",\"-c\",\"echo $X\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok(t, "build", "-q", "-t", "eb-built:1", dir)
	t.Cleanup(func() { s.docker(t, "", "rmi", "eb-built:1") })
	if out := s.ok(t, "run", "--rm", "eb-built:1"); out != "built\n" {
		t.Fatalf("run: %q", out)
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
