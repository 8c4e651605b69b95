package agent

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DrainOutput waits, for at most max, until the platform has read what
// was written to files (the agent's stdout and stderr, pipes the
// platform's log reads): a workload whose exit is reported while its
// last lines are still in a pipe would have them missing from a docker
// logs asked right after the exit (the engine's log copier reads them a
// moment later). A file that is not a pipe is not waited for.
func DrainOutput(max time.Duration, files ...*os.File) {
	deadline := time.Now().Add(max)
	for _, f := range files {
		for {
			n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // FIONREAD: bytes not read yet
			if err != nil || n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}
