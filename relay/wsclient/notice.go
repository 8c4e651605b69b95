package wsclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Notice paths on the relay.
const (
	// PathNotice takes a notice that a container changed:
	// POST ?container=ID with the container's agent token as bearer (the
	// control plane derives it from the deployment secret).
	PathNotice = "/v1/notice"
	// PathWatch is a WebSocket on which the relay sends one text message
	// per notice for the container a watch ticket (ticket.KindWatch)
	// names; the ticket is the bearer.
	PathWatch = "/v1/watch"
)

// Watch implements relay.Watcher on a network relay: the returned channel
// receives a value (one pending at most) after each notice for the
// ticket's container, until ctx ends or the connection breaks (the waiter
// then falls back to polling).
func (d Dialer) Watch(ctx context.Context, relayURL, token string) (<-chan struct{}, error) {
	u, err := endpoint(relayURL, PathWatch, nil)
	if err != nil {
		return nil, err
	}
	ws, err := dial(ctx, d.WS, u, token, controlBufferSize)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	go func() {
		defer stop()
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, nil
}

// Notifier implements relay.Notifier on a network relay for the control
// plane, which holds the deployment secret the relay checks agent tokens
// with.
type Notifier struct {
	// RelayURL is the relay's base URL (ws://, wss://, http://, https://).
	RelayURL string
	// Secret is the deployment secret.
	Secret []byte
	// Client defaults to an http.Client with a 2 s timeout: a notice is a
	// hint, never worth holding an answer for.
	Client *http.Client
}

// Notify tells the watchers of container at the relay that it changed.
func (n Notifier) Notify(ctx context.Context, container string) error {
	u, err := endpoint(n.RelayURL, PathNotice, url.Values{"container": {container}})
	if err != nil {
		return err
	}
	u = "http" + strings.TrimPrefix(u, "ws")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+ticket.AgentToken(n.Secret, container))
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return errdefs.Unavailable(fmt.Errorf("relay %s: notice: %w", redact(n.RelayURL), err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return errdefs.Unavailable(fmt.Errorf("relay %s: notice: %s: %s", redact(n.RelayURL), resp.Status, strings.TrimSpace(string(msg))))
	}
	return nil
}
