package emulators

import (
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// startProcess starts cmd in its own process group and reaps it in the
// background, closing exited (after setting *waitErr) when it ends.
//
// The child gets SIGKILL if the thread that started it dies (Pdeathsig), so
// an emulator does not outlive a test binary that crashes or times out. That
// thread is the waiting goroutine's, locked for the child's whole life.
func startProcess(cmd *exec.Cmd, exited chan struct{}, waitErr *error) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when this goroutine returns its thread exits,
		// which is fine because the child is gone by then.
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		*waitErr = cmd.Wait()
		close(exited)
	}()
	return <-started
}

// terminate sends SIGTERM to cmd's process group, then SIGKILL if it has not
// exited after a grace period, and waits for it.
func terminate(cmd *exec.Cmd, exited chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

const (
	stopSignal = syscall.SIGSTOP
	contSignal = syscall.SIGCONT
)

// signalGroup sends sig to cmd's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("emulator not running")
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
