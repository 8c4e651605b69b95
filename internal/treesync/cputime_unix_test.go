//go:build unix

package treesync

import "syscall"

// cpuTime returns the CPU time (user and system, all threads) this
// process has used so far, in nanoseconds: on a loaded machine a
// benchmark's wall time mostly measures the other processes.
func cpuTime() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
