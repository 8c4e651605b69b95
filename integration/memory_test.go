package integration

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// TestCLIMemoryProvider runs real workloads in the WASM sandbox through
// the docker CLI: output, exit codes, exec, stdin, docker cp both ways,
// logs, volumes shared between containers, and escapes refused.
func TestCLIMemoryProvider(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	host := t.TempDir()
	secret := filepath.Join(host, "secret.txt")
	if err := os.WriteFile(secret, []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(host, "in.txt")
	if err := os.WriteFile(in, []byte("hello-from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(host, "back.txt")
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, `^hi$`, "run", "--rm", "alpine:3.20", "echo", "hi"),
		d(3, `^x$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo x; exit 3"),
		d(0, `^B$`, "run", "--rm", "alpine:3.20", "sh", "-c", "echo b | tr a-z A-Z"),
		d(1, `^before$`, "run", "--rm", "alpine:3.20", "bash", "-c", "set -e; echo before; false; echo after"),
		d(0, `nosuchcmd: not found\n127`, "run", "--rm", "alpine:3.20", "sh", "-c", "nosuchcmd; echo $?"),
		d(0, ``, "run", "-d", "--name", "box", "alpine:3.20", "tail", "-f", "/dev/null"),
		d(0, `^inside$`, "exec", "box", "sh", "-c", "echo inside"),
		{args: []string{"exec", "-i", "box", "wc", "-l"}, stdin: "a\nb\nc\n", rc: 0, want: `^\s*3$`},
		d(7, ``, "exec", "box", "sh", "-c", "exit 7"),
		d(0, `^v1$`, "exec", "-e", "K=v1", "box", "sh", "-c", "echo $K"),
		d(0, `^/tmp$`, "exec", "-w", "/tmp", "box", "pwd"),
		d(0, ``, "cp", in, "box:/tmp/in.txt"),
		d(0, `^hello-from-host$`, "exec", "box", "cat", "/tmp/in.txt"),
		d(0, ``, "cp", "box:/tmp/in.txt", back),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "cat "+secret+" 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "ln -s "+host+" /tmp/out 2>/dev/null; cat /tmp/out/secret.txt 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `^safe$`, "exec", "box", "sh", "-c", "cat /../../../../..$(echo "+secret+") 2>/dev/null | grep -q host-secret && echo leaked || echo safe"),
		d(0, `tail -f /dev/null`, "top", "box"),
		d(0, ``, "stop", "-t", "1", "box"),
		d(0, `^(137|143)$`, "inspect", "box", "--format", "{{.State.ExitCode}}"),
		d(0, ``, "rm", "box"),
		d(0, ``, "volume", "create", "shared"),
		d(0, ``, "run", "--rm", "-v", "shared:/data", "alpine:3.20", "sh", "-c", "echo persisted > /data/x"),
		d(0, `^persisted$`, "run", "--rm", "-v", "shared:/data", "alpine:3.20", "cat", "/data/x"),
		d(0, ``, "run", "-d", "--name", "logger", "alpine:3.20", "sh", "-c", "echo one; echo two >&2"),
		d(0, `^0$`, "wait", "logger"),
		d(0, `^one\ntwo$|^two\none$`, "logs", "logger"),
	})
	if b, err := os.ReadFile(back); err != nil || string(b) != "hello-from-host\n" {
		t.Fatalf("docker cp out: %q %v", b, err)
	}
	// stdout and stderr stay separate in the multiplexed log stream.
	_, _, body := raw(t, s, "GET", "/containers/logger/logs?stdout=1&stderr=1", "")
	streams := map[byte]string{}
	for b := []byte(body); len(b) >= 8; {
		n := int(binary.BigEndian.Uint32(b[4:8]))
		streams[b[0]] += string(b[8 : 8+n])
		b = b[8+n:]
	}
	if streams[1] != "one\n" || streams[2] != "two\n" {
		t.Fatalf("log streams %q", streams)
	}
}

// TestMemoryHealthcheck: a container with a health check goes starting →
// healthy (or unhealthy after the retries), as act and compose expect.
func TestMemoryHealthcheck(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "run", "-d", "--name", "ok", "--health-cmd", "test -f /tmp/ready", "--health-interval", "100ms", "--health-retries", "2",
			"alpine:3.20", "sh", "-c", "touch /tmp/ready; sleep 30"),
		d(0, ``, "run", "-d", "--name", "bad", "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "2", "alpine:3.20", "sleep", "30"),
	})
	for _, tc := range []struct{ name, want string }{{"ok", "healthy"}, {"bad", "unhealthy"}} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			out, _ := s.docker(t, "", "inspect", tc.name, "--format", "{{.State.Health.Status}}")
			if strings.TrimSpace(out) == tc.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health %q, want %q", tc.name, out, tc.want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// No health check: no Health object at all.
	runSteps(t, s, []step{
		d(0, ``, "run", "-d", "--name", "none", "alpine:3.20", "sleep", "30"),
		d(0, `^false$`, "inspect", "none", "--format", "{{if .State.Health}}true{{else}}false{{end}}"),
	})
}
