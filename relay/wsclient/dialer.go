package wsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// Dialer opens shim streams on a network relay. It implements
// relay.Dialer. The zero value is usable.
type Dialer struct {
	// WS, when set, makes streams WebSockets dialled with it (TLS
	// settings, proxies); nil opens raw streams where the path allows
	// (RawProtocol).
	WS *websocket.Dialer
}

// Dial opens the stream for ticket token on the relay at relayURL
// (ws://, wss://, http:// or https://). The relay verifies the ticket and
// waits for the container's agent before answering, so refusals arrive
// as classified errors: Forbidden for a bad, expired or replayed ticket,
// Unavailable when no agent connects.
func (d Dialer) Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error) {
	u, err := endpoint(relayURL, PathStream, nil)
	if err != nil {
		return nil, err
	}
	c, err := dialStream(ctx, d.WS, u, token)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// writePool lends the default dialer's connections their write buffers.
var writePool = &sync.Pool{}

// endpoint turns a relay base URL into the WebSocket URL of path.
func endpoint(base, path string, q url.Values) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", errdefs.InvalidParameterf("relay URL %q: %v", base, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", errdefs.InvalidParameterf("relay URL %q: want ws://, wss://, http:// or https://", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// controlBufferSize is the buffer size of an agent's control connection,
// which carries only offers and pings.
const controlBufferSize = 4 << 10

// dial opens a WebSocket with d, or by default with bufSize buffers.
func dial(ctx context.Context, d *websocket.Dialer, u, bearer string, bufSize int) (*websocket.Conn, error) {
	if d == nil {
		d = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: 0, // bounded by ctx: the relay waits for the agent
			ReadBufferSize:   bufSize,
			WriteBufferSize:  bufSize,
			// Write buffers are held only while a message is written, so
			// an idle agent's control connection holds none.
			WriteBufferPool: writePool,
		}
	}
	h := http.Header{"Authorization": {"Bearer " + bearer}}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err == nil {
		return ws, nil
	}
	if resp == nil {
		return nil, errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(u), err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return nil, refusal(resp.StatusCode, fmt.Errorf("relay refused the stream (%s): %s", resp.Status, strings.TrimSpace(string(msg))))
}

// redact drops the query (it never carries secrets, but keep logs short).
func redact(u string) string {
	s, _, _ := strings.Cut(u, "?")
	return s
}

// backoff returns the delay before reconnect attempt n (0-based): 100 ms
// doubling to max.
func backoff(n int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// AgentPresence asks the relay at base whether container's agent is
// connected, with the container's agent token. client nil means
// http.DefaultClient.
func AgentPresence(ctx context.Context, client *http.Client, base, container, token string) (Presence, error) {
	u, err := endpoint(base, PathAgentPresence, url.Values{"container": {container}})
	if err != nil {
		return Presence{}, err
	}
	u = "http" + strings.TrimPrefix(u, "ws")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Presence{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Presence{}, errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(base), err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Presence{}, errdefs.Unavailable(fmt.Errorf("relay %s: agent presence: %s: %s", redact(base), resp.Status, strings.TrimSpace(string(msg))))
	}
	var p Presence
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return Presence{}, fmt.Errorf("relay %s: agent presence: %w", redact(base), err)
	}
	return p, nil
}
