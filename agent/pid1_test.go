package agent

import (
	"os/exec"
	"syscall"
	"testing"
)

func TestCatches(t *testing.T) {
	// A shell that traps USR1 catches it and not USR2; a shell waits for
	// its trap to be set before reading stdin's end.
	cmd := exec.Command("sh", "-c", "trap 'exit 0' USR1; echo ready; read x")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	if !Catches(cmd.Process.Pid, syscall.SIGUSR1) {
		t.Error("USR1 is trapped but Catches says no")
	}
	if Catches(cmd.Process.Pid, syscall.SIGUSR2) {
		t.Error("USR2 is not trapped but Catches says yes")
	}
	if !Catches(1<<30, syscall.SIGTERM) {
		t.Error("an unreadable process must count as catching")
	}
}
