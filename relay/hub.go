package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// SessionServer serves one granted session on conn (the agent side) and
// closes conn when done.
type SessionServer func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser)

// Dialer opens the shim's side of a stream for a ticket issued by
// functions. relayURL is the ticket's relay address; the in-process Hub
// ignores it.
type Dialer interface {
	Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error)
}

type registration struct {
	serve SessionServer
	id    uint64
}

// Hub is the in-process relay. The zero value is not usable; call NewHub.
// Safe for concurrent use.
type Hub struct {
	secret []byte
	now    func() time.Time

	mu      sync.Mutex
	agents  map[string]registration
	nextReg uint64
	waiting map[string]chan struct{}              // container -> closed when an agent registers
	notices map[string]map[chan struct{}]struct{} // container -> watchers
	used    map[string]time.Time                  // session -> ticket expiry, refuses replays
}

// NewHub returns a hub that verifies tickets with secret.
func NewHub(secret []byte) *Hub {
	return &Hub{
		secret:  secret,
		now:     time.Now,
		agents:  map[string]registration{},
		waiting: map[string]chan struct{}{},
		used:    map[string]time.Time{},
		notices: map[string]map[chan struct{}]struct{}{},
	}
}

// Register makes serve the agent of container until the returned function
// is called. A later registration for the same container replaces it.
func (h *Hub) Register(container string, serve SessionServer) (unregister func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextReg++
	id := h.nextReg
	h.agents[container] = registration{serve: serve, id: id}
	if ch, ok := h.waiting[container]; ok {
		close(ch)
		delete(h.waiting, container)
	}
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		// Only remove our own registration, not a later replacement.
		if cur, ok := h.agents[container]; ok && cur.id == id {
			delete(h.agents, container)
		}
	}
}

// ErrReplay is returned when a ticket's session has already been opened.
var ErrReplay = errors.New("ticket: already used")

// Dial verifies token, waits (until ctx ends) for the container's agent to
// be present, and returns the shim's end of a new session stream.
func (h *Hub) Dial(ctx context.Context, _ string, token string) (io.ReadWriteCloser, error) {
	g, err := ticket.Verify(h.secret, token, h.now())
	if err != nil {
		return nil, errdefs.Forbidden(err)
	}
	if g.Kind == ticket.KindWatch {
		return nil, errdefs.Forbidden(errors.New("ticket: a watch ticket opens no session"))
	}
	h.mu.Lock()
	for s, exp := range h.used {
		if h.now().Unix() > exp.Unix()+1 {
			delete(h.used, s)
		}
	}
	if _, ok := h.used[g.Session]; ok {
		h.mu.Unlock()
		return nil, errdefs.Forbidden(ErrReplay)
	}
	h.used[g.Session] = time.Unix(g.Expires, 0)
	h.mu.Unlock()

	serve, err := h.agentFor(ctx, g.Container)
	if err != nil {
		return nil, err
	}
	shimEnd, agentEnd := net.Pipe()
	go serve(context.WithoutCancel(ctx), g, agentEnd)
	return shimEnd, nil
}

func (h *Hub) agentFor(ctx context.Context, container string) (SessionServer, error) {
	for {
		h.mu.Lock()
		reg, ok := h.agents[container]
		if ok {
			h.mu.Unlock()
			return reg.serve, nil
		}
		ch, ok := h.waiting[container]
		if !ok {
			ch = make(chan struct{})
			h.waiting[container] = ch
		}
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, errdefs.Unavailable(fmt.Errorf("no agent connected for container %s: %w", container, ctx.Err()))
		}
	}
}
