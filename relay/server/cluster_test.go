package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// node is one relay instance of a test cluster.
type node struct {
	srv *server.Server
	hs  *httptest.Server
	url string // http://127.0.0.1:PORT, its peer URL
}

// startCluster starts n relay instances that list each other as peers.
func startCluster(t *testing.T, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	urls := make([]string, n)
	for i := range nodes {
		hs := httptest.NewUnstartedServer(nil)
		nodes[i] = &node{hs: hs, url: "http://" + hs.Listener.Addr().String()}
		urls[i] = nodes[i].url
	}
	for _, nd := range nodes {
		srv, err := server.New(server.Options{
			Secret: secret, Peers: server.StaticPeers(urls...), Self: nd.url,
			PeerRefresh: 200 * time.Millisecond, AgentWait: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		nd.srv = srv
		nd.hs.Config.Handler = srv
		nd.hs.Start()
		t.Cleanup(func() { srv.Close(); nd.hs.Close() })
	}
	return nodes
}

// stop takes nd away as a replaced task goes: its connections drop and
// its address refuses connections.
func (nd *node) stop() {
	nd.srv.Close()
	nd.hs.CloseClientConnections()
	nd.hs.Close()
}

// balancer stands in for the load balancer in front of the instances:
// it sends each request to the instance route chooses for its path.
type balancer struct {
	mu    sync.Mutex
	route map[string]*node // path -> instance
	url   string
}

func newBalancer(t *testing.T, route map[string]*node) *balancer {
	b := &balancer{route: route}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		nd := b.route[r.URL.Path]
		b.mu.Unlock()
		if nd == nil {
			http.Error(w, "no route", http.StatusBadGateway)
			return
		}
		u, _ := url.Parse(nd.url)
		(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}).ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	b.url = "ws://" + hs.Listener.Addr().String()
	return b
}

func (b *balancer) set(path string, nd *node) {
	b.mu.Lock()
	b.route[path] = nd
	b.mu.Unlock()
}

// tunnelWorkload is testWorkload that also dials ports on loopback, as an
// agent in a task does.
type tunnelWorkload struct {
	testWorkload
}

func (tunnelWorkload) DialPort(ctx context.Context, port int) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

// startAgentVia runs container's agent against relayURL and returns a
// channel that receives on each (re)connection.
func startAgentVia(t *testing.T, relayURL, container string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{}, 8)
	w := &tunnelWorkload{testWorkload: testWorkload{name: container}}
	a := &wsclient.Agent{
		RelayURL: relayURL, Container: container, Token: ticket.AgentToken(secret, container),
		Serve: func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
			agent.ServeSession(ctx, conn, g, w, nil)
		},
		OnConnect:  func() { connected <- struct{}{} },
		MaxBackoff: 100 * time.Millisecond,
	}
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return connected
}

func waitConnected(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("agent did not connect")
	}
}

// waitPresent waits until presence asked at nd sees container's agent
// connected: an agent's OnConnect runs when its handshake is answered,
// which may be just before the instance holding it has registered it (a
// minute is the hang guard).
func waitPresent(t *testing.T, nd *node, container string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		p, err := wsclient.AgentPresence(context.Background(), nil, nd.url, container, ticket.AgentToken(secret, container))
		if err == nil && p.Connected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence at %s = %+v, %v; want connected", nd.url, p, err)
		}
	}
}

func wsURL(nd *node) string { return "ws" + strings.TrimPrefix(nd.url, "http") }

// TestClusterStreams: with three instances, a shim stream opened at one
// instance reaches an agent whose control connection is at another and
// whose data stream the load balancer sends to the third; so does a
// stream opened before the agent connects anywhere, and a tunnel.
func TestClusterStreams(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	lb := newBalancer(t, map[string]*node{wsclient.PathAgent: b, wsclient.PathAgentSession: c})
	ctx := context.Background()
	d := wsclient.Dialer{}

	// A stream waiting for an agent that has not connected yet.
	early := make(chan error, 1)
	var earlyOut string
	var earlyCode int
	go func() {
		conn, err := d.Dial(ctx, wsURL(a), sign(t, "c1", "s-early", "name"))
		if err == nil {
			earlyOut, earlyCode = runQuiet(conn)
		}
		early <- err
	}()
	waitConnected(t, startAgentVia(t, lb.url, "c1"))
	if err := <-early; err != nil || earlyOut != "c1" || earlyCode != 0 {
		t.Fatalf("stream opened before the agent connected: %q exit %d, %v", earlyOut, earlyCode, err)
	}

	for i, shimAt := range nodes {
		conn, err := d.Dial(ctx, wsURL(shimAt), sign(t, "c1", "s-echo-"+string(rune('a'+i)), "echo"))
		if err != nil {
			t.Fatalf("Dial at instance %d: %v", i, err)
		}
		if out, code := run(t, conn, "hello across instances"); out != "hello across instances" || code != 0 {
			t.Fatalf("echo through instance %d = %q exit %d", i, out, code)
		}
	}
	conn, err := d.Dial(ctx, wsURL(a), sign(t, "c1", "s-exit", "exit", "7"))
	if err != nil {
		t.Fatal(err)
	}
	if _, code := run(t, conn, ""); code != 7 {
		t.Fatalf("exit code through the cluster = %d, want 7", code)
	}
	// A replayed ticket is refused by the instance that holds the agent,
	// wherever it is presented.
	if _, err := d.Dial(ctx, wsURL(c), sign(t, "c1", "s-exit", "exit", "7")); err == nil {
		t.Fatal("a replayed ticket opened a second stream through another instance")
	}

	// A tunnel to a port in the workload, opened at an instance without
	// the agent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			cn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				all, _ := io.ReadAll(cn)
				cn.Write(bytes.ToUpper(all))
				cn.Close()
			}()
		}
	}()
	tok, err := ticket.Sign(secret, ticket.Grant{Container: "c1", Session: "s-tunnel", Kind: ticket.KindTunnel,
		Expires: time.Now().Add(time.Minute).Unix(), Tunnel: &ticket.Tunnel{Port: ln.Addr().(*net.TCPAddr).Port}})
	if err != nil {
		t.Fatal(err)
	}
	// Forwarded between instances, a tunnel stays framed though its legs
	// are raw: the forwarding proxy does not pass half-closes on.
	tc, err := d.Dial(ctx, wsURL(c), tok)
	if err != nil {
		t.Fatal(err)
	}
	frame.Write(tc, frame.Stdin, []byte("tunnel through peers"))
	frame.Write(tc, frame.CloseStdin, nil)
	var got bytes.Buffer
	for done := false; !done; {
		f, err := frame.Read(tc)
		if err != nil {
			t.Fatalf("tunnel: %v after %q", err, got.String())
		}
		switch f.Type {
		case frame.Stdout:
			got.Write(f.Payload)
		case frame.Exit, frame.Error:
			done = true
		}
	}
	tc.Close()
	if got.String() != "TUNNEL THROUGH PEERS" {
		t.Fatalf("tunnel answered %q", got.String())
	}
	if a.srv.Metrics().Forwarded() == 0 || c.srv.Metrics().Forwarded() == 0 {
		t.Fatalf("forwarded counts: a %d, c %d; want both above 0", a.srv.Metrics().Forwarded(), c.srv.Metrics().Forwarded())
	}
}

// runQuiet is run without a testing.T, for use off the test goroutine.
func runQuiet(conn io.ReadWriteCloser) (string, int) {
	defer conn.Close()
	frame.Write(conn, frame.CloseStdin, nil)
	var out bytes.Buffer
	for {
		f, err := frame.Read(conn)
		if err != nil {
			return out.String(), -1
		}
		switch f.Type {
		case frame.Stdout:
			out.Write(f.Payload)
		case frame.Exit:
			code, err := strconv.Atoi(string(f.Payload))
			if err != nil {
				code = -1
			}
			return out.String(), code
		}
	}
}

// TestClusterPresenceNoticesBlobs: presence asked at any instance sees an
// agent connected to another; a notice posted at one instance reaches a
// watcher at another; a blob uploaded through one instance is fetched,
// once, through another.
func TestClusterPresenceNoticesBlobs(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitConnected(t, startAgentVia(t, wsURL(b), "c1"))
	for _, nd := range nodes {
		waitPresent(t, nd, "c1")
	}
	p, err := wsclient.AgentPresence(ctx, nil, a.url, "c2", ticket.AgentToken(secret, "c2"))
	if err != nil || p.Connected || p.GoneFor <= 0 {
		t.Fatalf("presence of an agent connected nowhere = %+v, %v", p, err)
	}

	wtok, err := ticket.Sign(secret, ticket.Grant{Container: "c1", Session: "w1", Kind: ticket.KindWatch, Expires: time.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := wsclient.Dialer{}.Watch(ctx, wsURL(c), wtok)
	if err != nil {
		t.Fatal(err)
	}
	// The watcher's handshake may be answered just before c has
	// registered it; a notice says only "look again", so posting it
	// until the watcher hears is what a shim's confirming read makes
	// harmless (a minute is the hang guard).
	heard := false
	for deadline := time.Now().Add(time.Minute); !heard; {
		if err := (wsclient.Notifier{RelayURL: a.url, Secret: secret}).Notify(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-watch:
			heard = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("a watcher at another instance heard nothing")
			}
		}
	}

	body := bytes.Repeat([]byte("blob "), 100000)
	blob := func(op string) string {
		s, err := ticket.SignBlob(secret, ticket.BlobGrant{ID: "b1", Op: op, Purpose: "load", Expires: time.Now().Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	do := func(method, base, tok string, in []byte) (int, []byte) {
		var rd io.Reader
		if in != nil {
			rd = bytes.NewReader(in)
		}
		req, _ := http.NewRequest(method, base+ticket.BlobPath+"b1", rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if code, out := do(http.MethodPut, a.url, blob(ticket.BlobPut), body); code != http.StatusCreated {
		t.Fatalf("upload at a: %d %s", code, out)
	}
	if code, out := do(http.MethodGet, c.url, blob(ticket.BlobGet), nil); code != http.StatusOK || !bytes.Equal(out, body) {
		t.Fatalf("fetch at c: %d, %d bytes; want 200 and the %d uploaded", code, len(out), len(body))
	}
	if code, _ := do(http.MethodGet, b.url, blob(ticket.BlobGet), nil); code != http.StatusNotFound {
		t.Fatalf("second fetch at b: %d, want 404 (a blob is fetched once)", code)
	}
}

// TestClusterInstanceGoesAway: when the instance holding an agent goes
// away, a stream open through it ends (the shim sees the end, nothing
// hangs), the agent reconnects through the load balancer to another
// instance, and new streams opened anywhere reach it there; instances
// that are gone but still listed are passed over.
func TestClusterInstanceGoesAway(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	lb := newBalancer(t, map[string]*node{wsclient.PathAgent: b, wsclient.PathAgentSession: b})
	connected := startAgentVia(t, lb.url, "c1")
	waitConnected(t, connected)
	ctx := context.Background()
	d := wsclient.Dialer{}
	open, err := d.Dial(ctx, wsURL(a), sign(t, "c1", "s-open", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := frame.Write(open, frame.Stdin, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if f, err := frame.Read(open); err != nil || string(f.Payload) != "ping" {
		t.Fatalf("open stream before the instance went away: %v %q", err, f.Payload)
	}

	lb.set(wsclient.PathAgent, c)
	lb.set(wsclient.PathAgentSession, c)
	b.stop()
	// The open stream ends: a read returns an error or the session's end
	// instead of blocking.
	for {
		f, err := frame.Read(open)
		if err != nil || f.Type == frame.Exit || f.Type == frame.Error {
			break
		}
	}
	open.Close()

	waitConnected(t, connected)
	for i, shimAt := range []*node{a, c} {
		conn, err := d.Dial(ctx, wsURL(shimAt), sign(t, "c1", "s-after-"+string(rune('a'+i)), "echo"))
		if err != nil {
			t.Fatalf("Dial after the instance went away: %v", err)
		}
		if out, code := run(t, conn, "still here"); out != "still here" || code != 0 {
			t.Fatalf("echo after the instance went away = %q exit %d", out, code)
		}
	}
	p, err := wsclient.AgentPresence(ctx, nil, a.url, "c1", ticket.AgentToken(secret, "c1"))
	if err != nil || !p.Connected {
		t.Fatalf("presence with a listed instance gone = %+v, %v", p, err)
	}
}

// TestClusterPeerHeaderAndVia: the peer header is honoured only with the
// deployment's peer token, and an agent's via is followed only to a
// listed instance.
func TestClusterPeerHeaderAndVia(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	waitConnected(t, startAgentVia(t, wsURL(b), "c1"))
	waitPresent(t, b, "c1")
	presence := func(peerTok string) bool {
		req, _ := http.NewRequest(http.MethodGet, a.url+wsclient.PathAgentPresence+"?container=c1", nil)
		req.Header.Set("Authorization", "Bearer "+ticket.AgentToken(secret, "c1"))
		req.Header.Set(server.HeaderPeer, peerTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		all, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(all), `"connected":true`)
	}
	// With the peer token, a asks nobody else: the agent is not at a.
	if presence(server.PeerToken(secret)) {
		t.Error("a request with the peer token was forwarded on")
	}
	// A forged peer token is no peer token: a asks its peers.
	if !presence(server.PeerToken([]byte("forged"))) {
		t.Error("a request with a forged peer token was served as a peer's")
	}
	// An agent's data stream naming an address that is no peer is not
	// forwarded there.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the relay forwarded to a non-peer: %s", r.URL)
	}))
	defer target.Close()
	req, _ := http.NewRequest(http.MethodGet, a.url+wsclient.PathAgentSession+"?container=c1&session=nope&via="+url.QueryEscape(target.URL), nil)
	req.Header.Set("Authorization", "Bearer "+ticket.AgentToken(secret, "c1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("data stream with a non-peer via: %d, want 404", resp.StatusCode)
	}
}
