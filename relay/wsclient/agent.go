package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay"
)

// Agent keeps one container's control connection to a relay: it dials in
// with the container's agent token, answers the relay's pings, reconnects
// with backoff when the connection drops, and serves every session the
// relay offers on a data stream of its own, concurrently.
type Agent struct {
	// RelayURL is the relay's base URL (ws:// or wss://). Required.
	RelayURL string
	// Container is the container this agent serves. Required.
	Container string
	// Token is ticket.AgentToken(secret, Container). Required.
	Token string
	// Serve serves one session on its data stream. Required.
	Serve relay.SessionServer
	// OnConnect, when set, is called each time the control connection is
	// established.
	OnConnect func()
	// PingTimeout is how long the control connection may go without a
	// ping from the relay before it is considered dead (default 45 s).
	PingTimeout time.Duration
	// MaxBackoff caps the delay between reconnects (default 5 s).
	MaxBackoff time.Duration
	// WS overrides the WebSocket dialer; when set, data streams are
	// WebSockets too (see RawProtocol).
	WS *websocket.Dialer
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Track, when set, counts each session from the moment its offer
	// arrives until it has been served (or its stream failed to open):
	// an agent about to exit waits on it, so a session offered just
	// before the exit (the attach a client opened before the start) is
	// served, not dropped while its stream is still being dialled.
	Track *sync.WaitGroup
	// Once ends Run when its first control connection ends (the relay
	// dropped it, or replaced it with another agent's of the same
	// name) instead of reconnecting; attempts that never connected are
	// still retried. An agent kept only for an exited container's files
	// stops being one so.
	Once bool
}

// Run serves sessions until ctx ends, reconnecting as needed. It returns
// ctx's error, or an error without retrying when the relay refuses the
// token (a wrong token never becomes right).
func (a *Agent) Run(ctx context.Context) error {
	if a.RelayURL == "" || a.Container == "" || a.Token == "" || a.Serve == nil {
		return errors.New("wsclient: Agent needs RelayURL, Container, Token and Serve")
	}
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBackoff := a.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 5 * time.Second
	}
	for attempt := 0; ; {
		connected, err := a.runOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errdefs.HTTPStatus(err) == 401 || errdefs.HTTPStatus(err) == 403 {
			return fmt.Errorf("relay refused the agent token for %s: %w", a.Container, err)
		}
		if connected {
			if a.Once {
				return fmt.Errorf("relay control connection for %s ended: %w", a.Container, err)
			}
			attempt = 0
		}
		d := backoff(attempt, maxBackoff)
		attempt++
		log.Warn("relay control connection lost; reconnecting", "container", a.Container, "err", err, "in", d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// runOnce holds one control connection until it fails.
func (a *Agent) runOnce(ctx context.Context) (connected bool, err error) {
	u, err := endpoint(a.RelayURL, PathAgent, url.Values{"container": {a.Container}})
	if err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ws, err := dial(dctx, a.WS, u, a.Token, controlBufferSize)
	cancel()
	if err != nil {
		return false, err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { GracefulClose(ws, 0, true) })
	defer stop()
	pingTimeout := a.PingTimeout
	if pingTimeout <= 0 {
		pingTimeout = 45 * time.Second
	}
	_ = ws.SetReadDeadline(time.Now().Add(pingTimeout))
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(pingTimeout))
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
	})
	if a.OnConnect != nil {
		a.OnConnect()
	}
	for {
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			return true, err
		}
		_ = ws.SetReadDeadline(time.Now().Add(pingTimeout))
		if mt != websocket.TextMessage {
			continue
		}
		var o Offer
		if err := json.Unmarshal(msg, &o); err != nil || o.Session == "" {
			continue
		}
		if a.Track != nil {
			a.Track.Add(1)
		}
		go func() {
			if a.Track != nil {
				defer a.Track.Done()
			}
			a.session(context.WithoutCancel(ctx), o)
		}()
	}
}

// session opens the data stream of offer o and serves it. Sessions
// outlive the control connection that offered them.
func (a *Agent) session(ctx context.Context, o Offer) {
	if o.Grant.Container != a.Container {
		return // never serve another container's session
	}
	q := url.Values{"container": {a.Container}, "session": {o.Session}}
	if o.Via != "" {
		q.Set("via", o.Via)
	}
	u, err := endpoint(a.RelayURL, PathAgentSession, q)
	if err != nil {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := dialStream(dctx, a.WS, u, a.Token)
	cancel()
	if err != nil {
		if a.Logger != nil {
			a.Logger.Warn("cannot open session stream", "container", a.Container, "session", o.Session, "err", err)
		}
		return
	}
	a.Serve(ctx, o.Grant, conn)
}
