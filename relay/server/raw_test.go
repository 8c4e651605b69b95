package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/tunnel"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// startAgentWith connects container's agent with ws as its WebSocket
// dialer (nil: raw data streams) and waits until it is connected.
func (e *relayEnv) startAgentWith(t testing.TB, container string, w agent.Workload, ws *websocket.Dialer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{}, 8)
	a := &wsclient.Agent{
		RelayURL: e.url, Container: container, Token: ticket.AgentToken(secret, container), WS: ws,
		Serve: func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
			agent.ServeSession(ctx, conn, g, w, nil)
		},
		OnConnect: func() { connected <- struct{}{} },
	}
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-connected:
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("agent did not connect")
	}
}

// TestLegTransports: a session works whichever transport each leg uses
// (raw stream or WebSocket), and the relay counts the raw legs.
func TestLegTransports(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgentWith(t, "A-raw", testWorkload{name: "A-raw"}, nil)
	e.startAgentWith(t, "A-ws", testWorkload{name: "A-ws"}, &websocket.Dialer{})
	input := strings.Repeat("0123456789abcdef", 128<<10) // 2 MiB: many frames and batches
	for i, tc := range []struct {
		container string
		shimWS    bool
		rawLegs   int64
	}{
		{"A-raw", false, 2},
		{"A-raw", true, 1},
		{"A-ws", false, 1},
		{"A-ws", true, 0},
	} {
		t.Run(fmt.Sprintf("%s/shimWS=%v", tc.container, tc.shimWS), func(t *testing.T) {
			d := wsclient.Dialer{}
			if tc.shimWS {
				d.WS = &websocket.Dialer{}
			}
			before := e.srv.Metrics().RawLegs()
			conn, err := d.Dial(t.Context(), e.url, sign(t, tc.container, fmt.Sprintf("legs-%d", i), "echo"))
			if err != nil {
				t.Fatal(err)
			}
			out, code := run(t, conn, input)
			if code != 0 || out != input {
				t.Fatalf("echo: exit %d, %d bytes back of %d (equal: %v)", code, len(out), len(input), out == input)
			}
			if got := e.srv.Metrics().RawLegs() - before; got != tc.rawLegs {
				t.Errorf("raw legs = %d, want %d", got, tc.rawLegs)
			}
		})
	}
}

// TestRawFallback: a proxy that passes only WebSocket upgrades makes the
// relay answer 426 to a raw stream before it uses the ticket, so the
// client's WebSocket retry with the same ticket is served.
func TestRawFallback(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgentWith(t, "A", testWorkload{name: "agent-A"}, nil)
	target, _ := url.Parse(e.hs.URL)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if !websocket.IsWebSocketUpgrade(pr.In) {
			pr.Out.Header.Del("Upgrade")
			pr.Out.Header.Del("Connection")
		}
	}})
	t.Cleanup(proxy.Close)
	before := e.srv.Metrics().RawLegs()
	conn, err := wsclient.Dialer{}.Dial(t.Context(), "ws://"+proxy.Listener.Addr().String(), sign(t, "A", "fallback", "name"))
	if err != nil {
		t.Fatalf("Dial through a WebSocket-only proxy: %v", err)
	}
	if out, code := run(t, conn, ""); out != "agent-A" || code != 0 {
		t.Fatalf("session through the proxy: %q, exit %d", out, code)
	}
	if conn.(*wsclient.Conn).WebSocket() == nil {
		t.Error("the shim's leg through the proxy is not a WebSocket")
	}
	if got := e.srv.Metrics().RawLegs() - before; got != 1 {
		t.Errorf("raw legs = %d, want 1 (the agent's)", got)
	}
	// A request with no upgrade at all is refused without using its ticket.
	tok := sign(t, "A", "plain-get", "name")
	req, _ := http.NewRequest(http.MethodGet, e.hs.URL+wsclient.PathStream, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET of a stream: %d, want 426", resp.StatusCode)
	}
	conn, err = wsclient.Dialer{}.Dial(t.Context(), e.url, tok)
	if err != nil {
		t.Fatalf("the ticket refused with 426 is not usable after: %v", err)
	}
	if out, _ := run(t, conn, ""); out != "agent-A" {
		t.Fatalf("session after a 426: %q", out)
	}
}

// TestRawTunnel: a tunnel whose legs are both raw carries the TCP
// connection unframed: the client's half-close reaches the port, which
// answers after it, and the port's close reaches the client; bytes arrive
// whole and in order both ways.
func TestRawTunnel(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgentWith(t, "T", &tunnelWorkload{testWorkload: testWorkload{name: "T"}}, nil)
	// The port reads to EOF, then answers with the digest of what it read
	// and 4 MiB of its own, and closes.
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	reply := bytes.Repeat([]byte("reply!"), 4<<20/6)
	go func() {
		for {
			c, err := port.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h := sha256.New()
				n, _ := io.Copy(h, c)
				fmt.Fprintf(c, "%d %x\n", n, h.Sum(nil))
				c.Write(reply)
			}()
		}
	}()
	front := tunnelFront(t, e, "T", port.Addr().(*net.TCPAddr).Port)
	tok := func(session string) string {
		s, err := ticket.Sign(secret, ticket.Grant{Container: "T", Session: session, Kind: ticket.KindTunnel,
			Expires: time.Now().Add(time.Minute).Unix(), Tunnel: &ticket.Tunnel{Port: port.Addr().(*net.TCPAddr).Port}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := e.srv.Metrics().RawLegs()
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("0123456789"), 8<<20/10)
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the tunnel's answer: %v", err)
	}
	want := fmt.Sprintf("%d %x\n", len(data), sha256.Sum256(data)) + string(reply)
	if string(got) != want {
		t.Fatalf("answer: %d bytes, want %d; head %q", len(got), len(want), got[:min(len(got), 80)])
	}
	if n := e.srv.Metrics().RawLegs() - before; n != 2 {
		t.Errorf("raw legs = %d, want 2", n)
	}
	// The relay counts the bytes when each direction ends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		toAgent, toShim := e.srv.Metrics().Bytes()
		if toAgent >= int64(len(data)) && toShim >= int64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay counted %d bytes to the agent and %d to the shim; want at least %d and %d", toAgent, toShim, len(data), len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A client that speaks frames on a raw path is told so, not misread.
	conn, err := wsclient.Dialer{}.Dial(t.Context(), e.url, tok("framed-client"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame.Write(conn, frame.Stdin, []byte("hello"))
	f, err := frame.Read(conn)
	if err != nil || f.Type != frame.Error || !strings.Contains(string(f.Payload), tunnel.ErrNotSwitched.Error()) {
		t.Fatalf("framed client on a raw tunnel: frame %v %q, err %v; want the Error %q", f.Type, f.Payload, err, tunnel.ErrNotSwitched)
	}
}

// TestIdleTimeout: with IdleTimeout set, a session that keeps passing
// bytes stays open past it and one that goes quiet is closed, whichever
// way the relay joins its legs (WebSocket messages, raw bytes, an
// unframed tunnel).
func TestIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	e := startRelay(t, server.Options{IdleTimeout: idle})
	e.startAgentWith(t, "I-raw", &tunnelWorkload{testWorkload: testWorkload{name: "I-raw"}}, nil)
	e.startAgentWith(t, "I-ws", testWorkload{name: "I-ws"}, &websocket.Dialer{})
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	go func() {
		for {
			c, err := port.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	front := tunnelFront(t, e, "I-raw", port.Addr().(*net.TCPAddr).Port)

	// exchange sends one byte every 100 ms for three idle timeouts'
	// worth of time, reading each back, then waits for the end.
	exchange := func(t *testing.T, send func() error, recv func() error) {
		for i := 0; i < 30; i++ {
			if err := send(); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			if err := recv(); err != nil {
				t.Fatalf("a session passing bytes every 100 ms was closed after %d (idle timeout %v): %v", i, idle, err)
			}
			if i < 29 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		quiet := time.Now() // the relay's last byte was a little before
		err := recv()
		var ne net.Error
		switch {
		case err == nil:
			t.Fatal("a quiet session answered")
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("a quiet session was not closed: %v", err)
		}
		if d := time.Since(quiet); d < idle/2 {
			t.Errorf("the quiet session ended %v after its last byte, well before the idle timeout %v", d, idle)
		}
	}
	framed := func(t *testing.T, d wsclient.Dialer, container string) {
		conn, err := d.Dial(t.Context(), e.url, sign(t, container, "idle-"+container, "echo"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		exchange(t, func() error { return frame.Write(conn, frame.Stdin, []byte{'x'}) }, func() error {
			_ = conn.(*wsclient.Conn).NetConn().SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
			f, err := frame.Read(conn)
			if err == nil && f.Type != frame.Stdout {
				err = fmt.Errorf("frame %v %q", f.Type, f.Payload)
			}
			return err
		})
	}
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		framed(t, wsclient.Dialer{WS: &websocket.Dialer{}}, "I-ws")
	})
	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		framed(t, wsclient.Dialer{}, "I-raw")
	})
	t.Run("raw tunnel", func(t *testing.T) {
		t.Parallel()
		c, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b := []byte{'x'}
		exchange(t, func() error { _, err := c.Write(b); return err }, func() error {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
			_, err := io.ReadFull(c, b)
			return err
		})
	})
}

// tunnelFront listens on loopback and bridges each connection to port of
// container through a raw tunnel session on e; it returns the address.
func tunnelFront(t *testing.T, e *relayEnv, container string, port int) string {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { front.Close() })
	go func() {
		for i := 0; ; i++ {
			c, err := front.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tok, err := ticket.Sign(secret, ticket.Grant{Container: container, Session: fmt.Sprintf("front-%s-%d", container, i), Kind: ticket.KindTunnel,
					Expires: time.Now().Add(time.Minute).Unix(), Tunnel: &ticket.Tunnel{Port: port}})
				if err != nil {
					t.Error(err)
					return
				}
				remote, err := wsclient.Dialer{}.Dial(context.Background(), e.url, tok)
				if err != nil {
					t.Error(err)
					return
				}
				defer remote.Close()
				if _, _, ok := remote.(tunnel.RawStream).Raw(); !ok {
					t.Error("a tunnel between two raw legs is not raw end to end")
				}
				tunnel.Bridge(c, remote)
			}()
		}
	}()
	return front.Addr().String()
}
