// Package bounded puts a time limit on every call of a state store, so a
// store that stops answering (a hung server, a frozen emulator, a network
// partition that drops packets) costs each Docker request a bounded wait
// and a 503 "state store unreachable", never a hang. Each call runs with a
// deadline; a call that has not returned by then is answered without
// waiting for it (it ends on its own when its context is cancelled).
package bounded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// DefaultTimeout bounds one store call: far above a healthy store's
// milliseconds, well under a poll window and the platforms' request limits.
const DefaultTimeout = 5 * time.Second

// New wraps s so that each call returns within timeout (DefaultTimeout
// when timeout <= 0); name labels errors ("dynamodb"). The wrapper keeps
// s's optional Watcher.
func New(s statestore.Store, name string, timeout time.Duration) statestore.Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	b := &store{s: s, name: name, timeout: timeout}
	if w, ok := s.(statestore.Watcher); ok {
		return &watching{store: b, w: w}
	}
	return b
}

type store struct {
	s       statestore.Store
	name    string
	timeout time.Duration
}

// watching is a bounded store whose inner store is a Watcher.
type watching struct {
	*store
	w statestore.Watcher
}

func (w *watching) Changed(kind, id string) <-chan struct{} { return w.w.Changed(kind, id) }

// call runs fn with a deadline and returns its result, or an Unavailable
// error once the deadline passed without an answer. The caller's own
// cancellation is returned as it is.
func call[T any](ctx context.Context, b *store, op string, fn func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(cctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		cancel()
		if r.err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && !errdefs.IsUnavailable(r.err) {
			r.err = b.unreachable(op, r.err)
		}
		return r.v, r.err
	case <-cctx.Done():
		cancel()
		var zero T
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, b.unreachable(op, cctx.Err())
	}
}

func (b *store) unreachable(op string, err error) error {
	return errdefs.Unavailable(fmt.Errorf("%s: %s: %s had no answer within %v: %w", b.name, statestore.Unreachable, op, b.timeout, err))
}

func (b *store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	return call(ctx, b, "get", func(ctx context.Context) (statestore.Record, error) { return b.s.Get(ctx, kind, id) })
}

func (b *store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	return call(ctx, b, "get by name", func(ctx context.Context) (statestore.Record, error) { return b.s.GetByName(ctx, kind, name) })
}

func (b *store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	return call(ctx, b, "create", func(ctx context.Context) (statestore.Record, error) { return b.s.Create(ctx, r, evs...) })
}

func (b *store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	return call(ctx, b, "update", func(ctx context.Context) (statestore.Record, error) { return b.s.Update(ctx, r, evs...) })
}

func (b *store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	_, err := call(ctx, b, "delete", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, b.s.Delete(ctx, kind, id, version, evs...)
	})
	return err
}

func (b *store) List(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	return call(ctx, b, "list", func(ctx context.Context) (statestore.Page, error) { return b.s.List(ctx, kind, opts) })
}

func (b *store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	return call(ctx, b, "append event", func(ctx context.Context) (statestore.Event, error) { return b.s.AppendEvent(ctx, e) })
}

func (b *store) Events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	return call(ctx, b, "events", func(ctx context.Context) ([]statestore.Event, error) { return b.s.Events(ctx, q) })
}

func (b *store) Close() error { return b.s.Close() }
