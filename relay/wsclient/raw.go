package wsclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// RawProtocol is the HTTP Upgrade token of a raw stream: a session leg
// that, after the relay's 101 answer, carries the frames' bytes as they
// are, without WebSocket framing. A WebSocket client masks every byte it
// sends, which the relay must unmask, and the relay parses and rebuilds
// every message; on a raw leg it does neither, and when both legs of a
// session are raw it joins the two TCP connections in the kernel
// (splice), so each relayed byte costs the relay no copy of its own.
//
// Session legs to a ws:// relay are raw by default: that is a relay
// reached directly (a private network, a local process). A wss:// relay
// sits behind a TLS-terminating load balancer (an ALB, Cloud Run), which
// may pass only WebSocket upgrades and through which nothing could be
// spliced anyway, so its legs stay WebSockets. A raw leg falls back to a
// WebSocket when the relay answers 426 Upgrade Required (a proxy between
// dropped the Upgrade header: the relay checks it before it uses the
// ticket, so the same ticket opens the WebSocket), when an HTTP proxy is
// configured for the relay's address, or when the caller sets its own
// websocket.Dialer. Agents' control connections are always WebSockets
// (pings, offers).
const RawProtocol = "sockerless-stream/1"

// HeaderRawPath is set (to "1") in the relay's 101 answer to a raw stream
// when the session's other leg is a raw stream too: the bytes one end
// writes reach the other as they are, and a half-close (CloseWrite)
// reaches it as EOF. A tunnel session then carries its TCP connection
// unframed (Conn.Raw), so every hop can splice it.
const HeaderRawPath = "Sockerless-Raw-Path"

// errUseWebSocket says a raw stream cannot be opened on this path and a
// WebSocket should be tried with the same ticket.
var errUseWebSocket = errors.New("raw stream not available on this path")

// dialStream opens a session leg at u (a ws:// or wss:// URL): raw unless
// wsd is set or the path refuses it, else a WebSocket through wsd.
func dialStream(ctx context.Context, wsd *websocket.Dialer, u, bearer string) (*Conn, error) {
	if wsd == nil {
		c, err := dialRaw(ctx, u, bearer)
		if !errors.Is(err, errUseWebSocket) {
			return c, err
		}
	}
	ws, err := dial(ctx, wsd, u, bearer, BufferSize)
	if err != nil {
		return nil, err
	}
	return NewConn(ws), nil
}

// dialRaw asks for a raw stream at u. The relay answers once the session
// is paired (it waits for the agent), so the wait is bounded by ctx.
func dialRaw(ctx context.Context, u, bearer string) (*Conn, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, errdefs.InvalidParameterf("relay URL %q: %v", u, err)
	}
	if pu.Scheme != "ws" {
		return nil, errUseWebSocket
	}
	hu := *pu
	hu.Scheme = "http"
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: &hu}); err != nil || p != nil {
		return nil, errUseWebSocket // the WebSocket dialer speaks to proxies
	}
	addr := pu.Host
	if pu.Port() == "" {
		addr = net.JoinHostPort(pu.Hostname(), "80")
	}
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(u), err))
	}
	// Cancelling ctx ends a handshake in progress at once.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	c, err := handshakeRaw(nc, pu, bearer)
	if !stop() && err == nil {
		err = errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(u), ctx.Err()))
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// handshakeRaw sends the upgrade request on nc and reads the answer.
func handshakeRaw(conn net.Conn, pu *url.URL, bearer string) (*Conn, error) {
	req := "GET " + pu.RequestURI() + " HTTP/1.1\r\nHost: " + pu.Host +
		"\r\nConnection: Upgrade\r\nUpgrade: " + RawProtocol +
		"\r\nAuthorization: Bearer " + bearer + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(pu.String()), err))
	}
	br := bufio.NewReaderSize(conn, BufferSize)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("relay %s: %w", redact(pu.String()), err))
	}
	if resp.StatusCode == http.StatusSwitchingProtocols && strings.EqualFold(resp.Header.Get("Upgrade"), RawProtocol) {
		c := newRawConn(conn, br)
		c.rawPath = resp.Header.Get(HeaderRawPath) == "1"
		return c, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUpgradeRequired {
		return nil, errUseWebSocket
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return nil, refusal(resp.StatusCode, fmt.Errorf("relay refused the stream (%s): %s", resp.Status, strings.TrimSpace(string(msg))))
}

// refusal classes the relay's answer to a refused stream.
func refusal(status int, e error) error {
	switch status {
	case http.StatusUnauthorized:
		return errdefs.Unauthorized(e)
	case http.StatusForbidden:
		return errdefs.Forbidden(e)
	case http.StatusNotFound:
		return errdefs.NotFound(e)
	case http.StatusBadRequest:
		return errdefs.InvalidParameter(e)
	default:
		return errdefs.Unavailable(e)
	}
}
