package relay

import (
	"context"
	"fmt"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Notifier carries notices that a container changed (it exited, it was
// removed) from the control plane to the shims waiting on it, so a
// `docker wait` wakes on the change itself instead of polling the store.
// A notice carries nothing but the container id: the shim confirms with
// one poll. Notices are a hint; a lost one costs a waiter only its
// back-off polling.
type Notifier interface {
	// Notify tells the container's watchers that it changed.
	Notify(ctx context.Context, container string) error
}

// Watcher is an optional extension of a Dialer: subscriptions to a
// container's notices with a watch ticket (ticket.KindWatch) that
// functions issued with a long wait's answer.
type Watcher interface {
	// Watch verifies token and returns a channel that receives a value
	// (buffered, one pending at most) after each notice for the ticket's
	// container, until ctx ends.
	Watch(ctx context.Context, relayURL, token string) (<-chan struct{}, error)
}

// Notify implements Notifier for the in-process relay.
func (h *Hub) Notify(_ context.Context, container string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.notices[container] {
		select {
		case ch <- struct{}{}:
		default: // one pending notice is as good as several
		}
	}
	return nil
}

// Watch implements Watcher for the in-process relay.
func (h *Hub) Watch(ctx context.Context, _ string, token string) (<-chan struct{}, error) {
	g, err := ticket.Verify(h.secret, token, h.now())
	if err != nil {
		return nil, errdefs.Forbidden(err)
	}
	if g.Kind != ticket.KindWatch {
		return nil, errdefs.Forbidden(fmt.Errorf("ticket: a %s ticket cannot watch", g.Kind))
	}
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	subs := h.notices[g.Container]
	if subs == nil {
		subs = map[chan struct{}]struct{}{}
		h.notices[g.Container] = subs
	}
	subs[ch] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(subs, ch)
		if len(subs) == 0 && h.notices[g.Container] != nil && len(h.notices[g.Container]) == 0 {
			delete(h.notices, g.Container)
		}
	})
	return ch, nil
}
