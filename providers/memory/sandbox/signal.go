package sandbox

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// sigState is what a process started by Container.Start does with the
// signals it is sent: the traps its shell set (when the process is a
// shell) and the trapped signals not yet handled. WebAssembly has no
// signals, so a trap runs on the host side, in the shell, between two
// commands (a shell also waits for its foreground command before running
// a trap).
type sigState struct {
	init bool // PID 1: an untrapped signal is ignored
	// pending counts undelivered trapped signals; the shell checks it
	// before each command (one atomic load).
	pending atomic.Int32
	mu      sync.Mutex
	owned   bool                      // a shell took the traps (the first, top-level one)
	traps   map[syscall.Signal]string // action; "" ignores the signal
	queue   []syscall.Signal
}

// deliver reports whether a trap takes sig; a trapped signal is queued
// for the shell, an ignored one dropped.
func (s *sigState) deliver(sig syscall.Signal) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	action, ok := s.traps[sig]
	if !ok {
		return false
	}
	if action != "" {
		s.queue = append(s.queue, sig)
		s.pending.Add(1)
	}
	return true
}

// own makes the calling shell the one whose traps handle the process's
// signals; only the first (top-level) shell does.
func (s *sigState) own() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owned {
		return false
	}
	s.owned = true
	return true
}

// set installs action for sig; "-" restores the default.
func (s *sigState) set(sig syscall.Signal, action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if action == "-" {
		delete(s.traps, sig)
		return
	}
	if s.traps == nil {
		s.traps = map[syscall.Signal]string{}
	}
	s.traps[sig] = action
}

// take returns the shell code of the queued signals' traps, in arrival
// order, and empties the queue.
func (s *sigState) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var code []string
	for _, sig := range s.queue {
		if a := s.traps[sig]; a != "" {
			code = append(code, a)
		}
	}
	s.pending.Add(-int32(len(s.queue)))
	s.queue = s.queue[:0]
	return strings.Join(code, "\n")
}

// list returns `trap` lines for the signal traps set, as busybox prints
// them.
func (s *sigState) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := syscall.Signal(1); n < 32; n++ {
		if a, ok := s.traps[n]; ok {
			out = append(out, "trap -- '"+strings.ReplaceAll(a, "'", `'\''`)+"' "+sigNames[n])
		}
	}
	return out
}

// sigNames are the Linux signal names, without "SIG", by number.
var sigNames = [...]string{1: "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
	"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU",
	"XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"}

// parseSignal reads a trap condition naming a signal (TERM, SIGTERM,
// term, 15); EXIT, ERR, 0 and unknown names are not signals.
func parseSignal(spec string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(spec); err == nil {
		if n > 0 && n < len(sigNames) {
			return syscall.Signal(n), true
		}
		return 0, false
	}
	name := strings.TrimPrefix(strings.ToUpper(spec), "SIG")
	for n, s := range sigNames {
		if s != "" && s == name {
			return syscall.Signal(n), true
		}
	}
	return 0, false
}
