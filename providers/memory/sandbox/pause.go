package sandbox

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// pauseGate is docker pause for a container's processes. WebAssembly
// code and the shell interpreter cannot be descheduled from outside, so
// every process stops at its next step: a shell before its next command
// (or redirection), an applet at its next call to the host (its output,
// input, files, sleeps and the sockerless host module). Resume lets them
// all go on; a signal that ends a process ends it while it waits.
type pauseGate struct {
	mu sync.Mutex
	// ch is non-nil while paused and closed by Resume.
	ch chan struct{}
	// waiting counts the processes stopped at the gate.
	waiting atomic.Int32
}

// Pause stops the container's processes at their next step.
func (c *Container) Pause() {
	c.pause.mu.Lock()
	defer c.pause.mu.Unlock()
	if c.pause.ch == nil {
		c.pause.ch = make(chan struct{})
	}
}

// Resume lets paused processes continue.
func (c *Container) Resume() {
	c.pause.mu.Lock()
	defer c.pause.mu.Unlock()
	if c.pause.ch != nil {
		close(c.pause.ch)
		c.pause.ch = nil
	}
}

// Paused reports whether the container is paused.
func (c *Container) Paused() bool {
	c.pause.mu.Lock()
	defer c.pause.mu.Unlock()
	return c.pause.ch != nil
}

// Stopped is the number of the container's processes waiting at the
// pause gate.
func (c *Container) Stopped() int { return int(c.pause.waiting.Load()) }

// gate returns at once unless the container is paused; then it waits
// for Resume or for ctx (the process's: a kill ends it) to end, and
// returns ctx's error in that case: the step must not be taken.
func (c *Container) gate(ctx context.Context) error {
	c.pause.mu.Lock()
	ch := c.pause.ch
	c.pause.mu.Unlock()
	if ch == nil {
		return nil
	}
	c.pause.waiting.Add(1)
	defer c.pause.waiting.Add(-1)
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// gatedWriter stops a process's writes while its container is paused.
type gatedWriter struct {
	ctx context.Context
	c   *Container
	w   io.Writer
}

func (g gatedWriter) Write(p []byte) (int, error) {
	if err := g.c.gate(g.ctx); err != nil {
		return 0, err
	}
	return g.w.Write(p)
}

// gatedReader stops a process's reads while its container is paused.
type gatedReader struct {
	ctx context.Context
	c   *Container
	r   io.Reader
}

func (g gatedReader) Read(p []byte) (int, error) {
	if err := g.c.gate(g.ctx); err != nil {
		return 0, err
	}
	return g.r.Read(p)
}

// gated wraps a host module function so the calling applet stops there
// while its container is paused.
func gated(f api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		if inv := invFrom(ctx); inv != nil && inv.c.gate(ctx) != nil {
			// Killed while paused: the call is not served; the
			// instance ends where wazero checks for termination.
			stack[0] = uint64(experimentalsys.EINTR)
			return
		}
		f(ctx, mod, stack)
	}
}
