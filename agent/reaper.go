package agent

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"
)

// owned is the set of children this package starts and waits for itself
// (exec.Cmd.Wait). The reaper never collects their status. Starting a
// process holds mu for reading from before fork until the pid is
// recorded, and the reaper holds it for writing, so a child that exits
// at once is never mistaken for an orphan.
var owned = struct {
	mu   sync.RWMutex
	pmu  sync.Mutex
	pids map[int]struct{}
}{pids: map[int]struct{}{}}

// startOwned starts cmd (on a new terminal of size sz, nil for the
// default, when tty) and records it as owned until release is called
// after its Wait.
func startOwned(cmd *exec.Cmd, tty bool, sz *pty.Winsize) (ptmx *os.File, release func(), err error) {
	owned.mu.RLock()
	defer owned.mu.RUnlock()
	if tty {
		ptmx, err = pty.StartWithSize(cmd, sz)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, func() {}, err
	}
	pid := cmd.Process.Pid
	owned.pmu.Lock()
	owned.pids[pid] = struct{}{}
	owned.pmu.Unlock()
	return ptmx, func() {
		owned.pmu.Lock()
		delete(owned.pids, pid)
		owned.pmu.Unlock()
	}, nil
}

// siginfo is the part of Linux's siginfo_t that waitid fills for a child.
type siginfo struct {
	signo, errno, code, _ int32
	pid                   int32
	uid                   uint32
	status                int32
	_                     [100]byte
}

const (
	pAll    = 0
	wNoWait = 0x1000000
)

// ReapOrphans collects the exit status of every exited child that this
// package did not start: the orphans a PID 1 (or a child subreaper)
// inherits. It returns how many it reaped. Children it started are left
// for their own Wait.
func ReapOrphans() int {
	owned.mu.Lock()
	defer owned.mu.Unlock()
	n := 0
	for {
		var si siginfo
		// Peek (WNOWAIT) at one exited child without collecting it.
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pAll, 0, uintptr(unsafe.Pointer(&si)), syscall.WEXITED|syscall.WNOHANG|wNoWait, 0, 0)
		if e != 0 || si.pid == 0 {
			return n
		}
		owned.pmu.Lock()
		_, ours := owned.pids[int(si.pid)]
		owned.pmu.Unlock()
		if ours {
			// Its Wait collects it shortly; others behind it are reaped
			// on the next round.
			return n
		}
		var ws syscall.WaitStatus
		if pid, err := syscall.Wait4(int(si.pid), &ws, syscall.WNOHANG, nil); err != nil || pid <= 0 {
			return n
		}
		n++
	}
}

// Reap reaps orphans until ctx ends: at each SIGCHLD and every second (a
// child of ours that was first in line when a SIGCHLD came holds the
// others back until its Wait).
func Reap(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ReapOrphans()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
	}
}

// BecomeSubreaper makes orphaned descendants of this process its children
// (prctl PR_SET_CHILD_SUBREAPER), as they are of a PID 1, so Reap can
// collect them.
func BecomeSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if e != 0 {
		return e
	}
	return nil
}
