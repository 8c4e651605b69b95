package agent

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Catches reports whether process pid has a handler installed for sig
// (its SigCgt mask in /proc). When the agent stands in for a container's
// PID 1, a signal the main process does not catch is not delivered: the
// kernel ignores such signals for a namespace's init, so under Docker a
// `docker stop` of `sleep` waits for the timeout and kills (exit 137). The
// answer is true when the mask cannot be read, so a signal is never lost
// for want of information.
func Catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return true
			}
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return true
}

// Pid is the main process's process id, 0 if it never started.
func (m *MainProcess) Pid() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}
