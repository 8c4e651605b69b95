package main

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
)

// TestPID1ReapsOrphans runs the agent as PID 1 of a new PID namespace
// (unshare), wrapping a command that leaves orphans behind: they are
// re-parented to the agent, which must reap them, and the agent exits
// with the command's code.
func TestPID1ReapsOrphans(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sockerless-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secret := []byte("pid1-secret")
	srv, err := server.New(server.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	script := `(sleep 0.1 &); (sleep 0.1 &); (true &); sleep 1
z=0; for f in /proc/[0-9]*/stat; do read -r l < "$f"; case "$l" in *") Z "*) z=$((z+1));; esac; done
echo pid=$PPID zombies=$z; exit 4`
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", bin, "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "SOCKERLESS_RELAY_URL=ws://"+hs.Listener.Addr().String(), "SOCKERLESS_CONTAINER_ID=c1",
		"SOCKERLESS_AGENT_TOKEN="+ticket.AgentToken(secret, "c1"), "SOCKERLESS_EXIT_LINGER=0s")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("unshare: %v\n%s", err, out)
	}
	if code != 4 || !strings.Contains(string(out), "pid=1 zombies=0") {
		t.Errorf("agent as PID 1: exit %d, output %q; want exit 4 and pid=1 zombies=0", code, out)
	}
}
