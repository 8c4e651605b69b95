package agent

import (
	"context"
	"sync"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
)

// CarryHold is the set of carried-bind destinations whose first push
// from the shim has not arrived yet. The shim pushes a container's
// carried binds once its agent serves, which is after the workload
// started; holding the main process until then gives it the runner's
// files, as a bind mount would have from the first instruction.
type CarryHold struct {
	op      string
	mu      sync.Mutex
	pending map[string]bool
	done    chan struct{}
}

// NewCarryHold waits for carries of direction op (ticket.CarryPush or
// CarryPull) of dirs (empty names are ignored).
func NewCarryHold(op string, dirs []string) *CarryHold {
	h := &CarryHold{op: op, pending: map[string]bool{}, done: make(chan struct{})}
	for _, d := range dirs {
		if d != "" {
			h.pending[d] = true
		}
	}
	if len(h.pending) == 0 {
		close(h.done)
	}
	return h
}

// Served records the end of a session: a carry of the hold's direction
// of a pending directory clears it (whether or not it succeeded: the shim reported a
// failure to its client, and waiting longer would not change it).
func (h *CarryHold) Served(g ticket.Grant) {
	if g.Kind != ticket.KindCarry || g.Carry == nil || g.Carry.Op != h.op {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending[g.Carry.Dir] {
		delete(h.pending, g.Carry.Dir)
		if len(h.pending) == 0 {
			close(h.done)
		}
	}
}

// Wait returns true once every directory had its carry, false when max
// passed or ctx ended first.
func (h *CarryHold) Wait(ctx context.Context, max time.Duration) bool {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-h.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// Missing lists the directories still waited for.
func (h *CarryHold) Missing() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for d := range h.pending {
		out = append(out, d)
	}
	return out
}
