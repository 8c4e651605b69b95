//go:build !linux

package emulators

import (
	"errors"
	"os/exec"
	"time"
)

// startProcess starts cmd and reaps it in the background, closing exited
// (after setting *waitErr) when it ends.
func startProcess(cmd *exec.Cmd, exited chan struct{}, waitErr *error) error {
	if err := cmd.Start(); err != nil {
		close(exited)
		return err
	}
	go func() {
		*waitErr = cmd.Wait()
		close(exited)
	}()
	return nil
}

// terminate kills cmd and waits for it. Outside Linux only the direct child
// is killed.
func terminate(cmd *exec.Cmd, exited chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// Freezing needs process-group signals: not outside Linux.
const (
	stopSignal = 0
	contSignal = 0
)

func signalGroup(*exec.Cmd, int) error {
	return errors.New("freezing an emulator is supported on Linux only")
}
