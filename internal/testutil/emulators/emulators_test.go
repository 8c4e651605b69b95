package emulators

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	for _, s := range []string{"ab", "cd", "efg"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.String(); got != "cdefg" {
		t.Errorf("tail = %q, want %q", got, "cdefg")
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("RepoRoot() = %s, which has no go.mod", root)
	}
}

// TestStartFailsClearly checks that a command that cannot run gives an
// error naming the emulator and the cause, and that a process that dies
// early gives its output.
func TestStartFailsClearly(t *testing.T) {
	_, err := start(spec{
		name: "fake",
		command: func(int) ([]string, string, func(), error) {
			return []string{"/bin/sh", "-c", "echo boom >&2; exit 3"}, "", nil, nil
		},
		endpoint: func(addr string) string { return addr },
		ready:    func(string) bool { return false },
	})
	if err == nil || !strings.Contains(err.Error(), "fake emulator exited before it was ready") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("start() error = %v, want one naming the emulator with its output", err)
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	e, err := start(spec{
		name: "sleeper",
		command: func(int) ([]string, string, func(), error) {
			// The shell's child shares its process group.
			return []string{"/bin/sh", "-c", "sleep 60 & wait"}, "", nil, nil
		},
		endpoint: func(addr string) string { return addr },
		ready:    func(string) bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	pgid := e.cmd.Process.Pid
	e.Stop()
	e.Stop() // idempotent
	if alive(pgid) {
		t.Errorf("process group %d still has members after Stop", pgid)
	}
}
