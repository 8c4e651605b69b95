package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

var secret = []byte("relay-test-secret")

// testWorkload runs pseudo commands: "echo" copies stdin to stdout,
// "name" prints the container's name, "flood N" writes N bytes counting
// them in written, "exit N" returns N.
type testWorkload struct {
	name    string
	written *atomic.Int64
}

func (w testWorkload) Exec(ctx context.Context, g ticket.Grant, p ticket.Process, s agent.Stdio) (int, error) {
	switch p.Cmd[0] {
	case "echo":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "name":
		io.WriteString(s.Stdout, w.name)
		return 0, nil
	case "flood":
		n, _ := strconv.Atoi(p.Cmd[1])
		chunk := bytes.Repeat([]byte{'x'}, 64<<10)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := s.Stdout.Write(chunk[:k]); err != nil {
				return 1, err
			}
			if w.written != nil {
				w.written.Add(int64(k))
			}
			n -= k
		}
		return 0, nil
	case "exit":
		n, _ := strconv.Atoi(p.Cmd[1])
		return n, nil
	}
	return 127, nil
}

func (w testWorkload) Attach(ctx context.Context, g ticket.Grant, s agent.Stdio) (int, error) {
	s.Ready()
	return 0, nil
}

type relayEnv struct {
	srv *server.Server
	url string
	hs  *httptest.Server
}

func startRelay(t testing.TB, opts server.Options) *relayEnv {
	t.Helper()
	opts.Secret = secret
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return &relayEnv{srv: srv, url: "ws://" + hs.Listener.Addr().String(), hs: hs}
}

// startAgent connects an agent for container serving w, with raw data
// streams, and waits until it is connected.
func (e *relayEnv) startAgent(t testing.TB, container string, w agent.Workload) {
	t.Helper()
	e.startAgentWith(t, container, w, nil)
}

func sign(t testing.TB, container, session string, cmd ...string) string {
	t.Helper()
	tok, err := ticket.Sign(secret, ticket.Grant{
		Container: container, Session: session, Kind: ticket.KindExec, Expires: time.Now().Add(time.Minute).Unix(),
		Process: &ticket.Process{Cmd: cmd, Stdin: true, Stdout: true, Stderr: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// run sends stdin, half-closes and reads output to the Exit frame.
func run(t testing.TB, conn io.ReadWriteCloser, stdin string) (string, int) {
	t.Helper()
	defer conn.Close()
	if stdin != "" {
		frame.Write(conn, frame.Stdin, []byte(stdin))
	}
	frame.Write(conn, frame.CloseStdin, nil)
	var out bytes.Buffer
	for {
		f, err := frame.Read(conn)
		if err != nil {
			t.Fatalf("Read() error = %v before the exit frame (output %q)", err, out.String())
		}
		switch f.Type {
		case frame.Stdout, frame.Stderr:
			out.Write(f.Payload)
		case frame.Exit:
			code, _ := strconv.Atoi(string(f.Payload))
			return out.String(), code
		case frame.Error:
			t.Fatalf("error frame: %s", f.Payload)
		}
	}
}

func TestPairsByContainer(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgent(t, "A", testWorkload{name: "agent-A"})
	e.startAgent(t, "B", testWorkload{name: "agent-B"})
	tests := []struct {
		container string
		cmd       []string
		stdin     string
		want      string
		code      int
	}{
		{"A", []string{"name"}, "", "agent-A", 0},
		{"B", []string{"name"}, "", "agent-B", 0},
		{"A", []string{"echo"}, "hello through the relay", "hello through the relay", 0},
		{"B", []string{"exit", "7"}, "", "", 7},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s-%s", tt.container, tt.cmd[0]), func(t *testing.T) {
			conn, err := wsclient.Dialer{}.Dial(t.Context(), e.url, sign(t, tt.container, fmt.Sprintf("s%d", i), tt.cmd...))
			if err != nil {
				t.Fatal(err)
			}
			out, code := run(t, conn, tt.stdin)
			if out != tt.want || code != tt.code {
				t.Errorf("got %q exit %d, want %q exit %d", out, code, tt.want, tt.code)
			}
		})
	}
	if got := e.srv.Metrics().AgentsConnected(); got != 2 {
		t.Errorf("AgentsConnected() = %d, want 2", got)
	}
}

func TestRefusedTickets(t *testing.T) {
	e := startRelay(t, server.Options{AgentWait: 300 * time.Millisecond})
	e.startAgent(t, "A", testWorkload{name: "A"})
	used := sign(t, "A", "used", "name")
	c, err := wsclient.Dialer{}.Dial(t.Context(), e.url, used)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, "")
	forged, _ := ticket.Sign([]byte("not the secret"), ticket.Grant{Container: "A", Session: "f", Kind: ticket.KindExec, Expires: time.Now().Add(time.Minute).Unix(), Process: &ticket.Process{Cmd: []string{"name"}}})
	expired, _ := ticket.Sign(secret, ticket.Grant{Container: "A", Session: "x", Kind: ticket.KindExec, Expires: time.Now().Add(-time.Second).Unix(), Process: &ticket.Process{Cmd: []string{"name"}}})
	body, _, _ := strings.Cut(sign(t, "A", "spliced", "name"), ".")
	_, otherSig, _ := strings.Cut(forged, ".")
	tests := []struct {
		name   string
		token  string
		reason string
		status int
	}{
		{"forged", forged, server.ReasonForged, http.StatusForbidden},
		{"spliced", body + "." + otherSig, server.ReasonForged, http.StatusForbidden},
		{"expired", expired, server.ReasonExpired, http.StatusForbidden},
		{"replayed", used, server.ReasonReplayed, http.StatusForbidden},
		{"malformed", "garbage", server.ReasonMalformed, http.StatusForbidden},
		{"cross-container (no agent for B)", sign(t, "B", "b1", "name"), server.ReasonNoAgent, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.srv.Metrics().Rejected(tt.reason)
			_, err := wsclient.Dialer{}.Dial(t.Context(), e.url, tt.token)
			if err == nil {
				t.Fatal("Dial() succeeded")
			}
			if got := errdefs.HTTPStatus(err); got != tt.status {
				t.Errorf("Dial() error = %v (status %d), want status %d", err, got, tt.status)
			}
			if got := e.srv.Metrics().Rejected(tt.reason) - before; got != 1 {
				t.Errorf("rejected{%s} grew by %d, want 1", tt.reason, got)
			}
		})
	}
	// The counters are on /metrics.
	resp, err := http.Get(e.hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`sockerless_relay_rejected_total{reason="forged"} 2`, `sockerless_relay_rejected_total{reason="expired"} 1`, `sockerless_relay_rejected_total{reason="replayed"} 1`, "sockerless_relay_agents_connected 1", "sockerless_relay_sessions_total 1"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
}

// TestCrossContainerJoinRefused: an agent holding container A's token
// cannot join a session offered to container B's agent, and no offer for
// B ever reaches A.
func TestCrossContainerJoinRefused(t *testing.T) {
	e := startRelay(t, server.Options{JoinTimeout: 2 * time.Second})
	var offersToA atomic.Int64
	e.startAgent(t, "A", countingWorkload{&offersToA})
	// A raw control connection for B that receives offers but never joins.
	h := http.Header{"Authorization": {"Bearer " + ticket.AgentToken(secret, "B")}}
	ctl, _, err := websocket.DefaultDialer.Dial(e.url+wsclient.PathAgent+"?container=B", h)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	dialErr := make(chan error, 1)
	go func() {
		_, err := wsclient.Dialer{}.Dial(context.Background(), e.url, sign(t, "B", "sessB", "name"))
		dialErr <- err
	}()
	_, msg, err := ctl.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), `"session":"sessB"`) {
		t.Fatalf("offer = %s", msg)
	}
	tests := []struct {
		name, container, token string
		status                 int
		reason                 string
	}{
		{"A's token naming A", "A", ticket.AgentToken(secret, "A"), http.StatusForbidden, server.ReasonCrossContainer},
		{"A's token naming B", "B", ticket.AgentToken(secret, "A"), http.StatusUnauthorized, server.ReasonAgentToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.srv.Metrics().Rejected(tt.reason)
			h := http.Header{"Authorization": {"Bearer " + tt.token}}
			_, resp, err := websocket.DefaultDialer.Dial(e.url+wsclient.PathAgentSession+"?container="+tt.container+"&session=sessB", h)
			if err == nil || resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("join: err %v, resp %v; want status %d", err, resp, tt.status)
			}
			if got := e.srv.Metrics().Rejected(tt.reason) - before; got != 1 {
				t.Errorf("rejected{%s} grew by %d, want 1", tt.reason, got)
			}
		})
	}
	if err := <-dialErr; errdefs.HTTPStatus(err) != http.StatusServiceUnavailable && !strings.Contains(fmt.Sprint(err), "504") {
		t.Errorf("B's stream: err = %v, want a timeout refusal", err)
	}
	if n := offersToA.Load(); n != 0 {
		t.Errorf("A's agent served %d sessions, want 0", n)
	}
}

type countingWorkload struct{ n *atomic.Int64 }

func (c countingWorkload) Exec(context.Context, ticket.Grant, ticket.Process, agent.Stdio) (int, error) {
	c.n.Add(1)
	return 0, nil
}
func (c countingWorkload) Attach(context.Context, ticket.Grant, agent.Stdio) (int, error) {
	c.n.Add(1)
	return 0, nil
}

// TestFlowControl: a reader that stalls holds back the writer (bounded
// bytes in flight and bounded heap) and every byte arrives afterwards.
func TestFlowControl(t *testing.T) {
	const total = 256 << 20
	e := startRelay(t, server.Options{})
	var written atomic.Int64
	e.startAgent(t, "A", testWorkload{name: "A", written: &written})
	conn, err := wsclient.Dialer{}.Dial(t.Context(), e.url, sign(t, "A", "flood", "flood", strconv.Itoa(total)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	runtime.GC()
	var before, during runtime.MemStats
	runtime.ReadMemStats(&before)
	// Stall: read nothing until the writer stops making progress.
	var stalledAt int64
	for prev := int64(-1); ; {
		time.Sleep(300 * time.Millisecond)
		cur := written.Load()
		if cur == prev {
			stalledAt = cur
			break
		}
		prev = cur
	}
	runtime.ReadMemStats(&during)
	growth := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("writer stalled after %d KiB in flight of %d MiB; heap grew %d KiB", stalledAt>>10, total>>20, growth>>10)
	if stalledAt >= total/4 {
		t.Errorf("writer got %d bytes ahead of a stalled reader; flow control is not holding it back", stalledAt)
	}
	if growth > 64<<20 {
		t.Errorf("heap grew by %d MiB while the reader stalled", growth>>20)
	}
	// Now read everything: nothing is dropped.
	h := sha256.New()
	var got int64
	for {
		f, err := frame.Read(conn)
		if err != nil {
			t.Fatalf("Read() error = %v after %d bytes", err, got)
		}
		if f.Type == frame.Stdout {
			got += int64(len(f.Payload))
			h.Write(f.Payload)
			continue
		}
		if f.Type == frame.Exit {
			break
		}
	}
	want := sha256.Sum256(bytes.Repeat([]byte{'x'}, total))
	if got != total || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("received %d bytes (hash match %v), want %d", got, bytes.Equal(h.Sum(nil), want[:]), total)
	}
}

func TestConcurrentSessions(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgent(t, "A", testWorkload{name: "A"})
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := wsclient.Dialer{}.Dial(context.Background(), e.url, sign(t, "A", fmt.Sprintf("c%d", i), "echo"))
			if err != nil {
				errs <- err
				return
			}
			in := strings.Repeat(fmt.Sprintf("session %d;", i), 1000)
			out, code := run(t, conn, in)
			if out != in || code != 0 {
				errs <- fmt.Errorf("session %d: %d bytes exit %d", i, len(out), code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Metrics().SessionsOpen() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.srv.Metrics().SessionsOpen(); got != 0 {
		t.Errorf("SessionsOpen() = %d after all ended", got)
	}
}

func TestAgentReconnects(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgent(t, "A", testWorkload{name: "A"})
	e.srv.Close() // drops every agent connection; the agent must come back
	conn, err := wsclient.Dialer{}.Dial(t.Context(), e.url, sign(t, "A", "after", "name"))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, conn, ""); out != "A" {
		t.Errorf("output = %q after reconnect", out)
	}
}

func TestDrainAndHealth(t *testing.T) {
	e := startRelay(t, server.Options{})
	get := func() int {
		resp, err := http.Get(e.hs.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("/healthz = %d", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := e.srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != http.StatusServiceUnavailable {
		t.Errorf("/healthz while draining = %d", got)
	}
	_, err := wsclient.Dialer{}.Dial(t.Context(), e.url, sign(t, "A", "late", "name"))
	if errdefs.HTTPStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("Dial() while draining error = %v", err)
	}
	if e.srv.Metrics().Rejected(server.ReasonDraining) != 1 {
		t.Error("draining refusal not counted")
	}
	_ = errors.New
}

// BenchmarkThroughput measures bytes per second through the relay in one
// session (agent stdout to shim).
func BenchmarkThroughput(b *testing.B) {
	e := startRelay(b, server.Options{})
	e.startAgent(b, "A", testWorkload{name: "A"})
	const size = 64 << 20
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		conn, err := wsclient.Dialer{}.Dial(context.Background(), e.url, sign(b, "A", fmt.Sprintf("t%d", i), "flood", strconv.Itoa(size)))
		if err != nil {
			b.Fatal(err)
		}
		for {
			f, err := frame.Read(conn)
			if err != nil {
				b.Fatal(err)
			}
			if f.Type == frame.Exit {
				break
			}
		}
		conn.Close()
	}
}

// BenchmarkSessionSetup measures ticket to first byte: dial, offer, agent
// join, pairing and a one-frame exec.
func BenchmarkSessionSetup(b *testing.B) {
	e := startRelay(b, server.Options{})
	e.startAgent(b, "A", testWorkload{name: "A"})
	for i := 0; b.Loop(); i++ {
		conn, err := wsclient.Dialer{}.Dial(context.Background(), e.url, sign(b, "A", fmt.Sprintf("b%d", i), "exit", "0"))
		if err != nil {
			b.Fatal(err)
		}
		frame.Write(conn, frame.CloseStdin, nil)
		for {
			f, err := frame.Read(conn)
			if err != nil {
				b.Fatal(err)
			}
			if f.Type == frame.Exit {
				break
			}
		}
		conn.Close()
	}
}

// TestLargeFramesAndByteCounts: frames larger than the relay's copy buffer
// (1 MiB stdin frames) cross whole and in order both ways, and the relay
// counts every byte it forwards.
func TestLargeFramesAndByteCounts(t *testing.T) {
	e := startRelay(t, server.Options{})
	e.startAgent(t, "A", testWorkload{name: "A"})
	conn, err := wsclient.Dialer{}.Dial(t.Context(), e.url, sign(t, "A", "large", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 3<<20+123)
	for i := range in {
		in[i] = byte(i * 7 / 5)
	}
	go func() {
		frame.Write(conn, frame.Stdin, in) // 1 MiB frames: larger than one message the relay buffers
		frame.Write(conn, frame.CloseStdin, nil)
	}()
	var out bytes.Buffer
	var toShim int64
	for {
		f, err := frame.Read(conn)
		if err != nil {
			t.Fatalf("Read() error = %v after %d bytes", err, out.Len())
		}
		toShim += frame.HeaderSize + int64(len(f.Payload))
		if f.Type == frame.Stdout {
			out.Write(f.Payload)
		}
		if f.Type == frame.Exit {
			break
		}
	}
	conn.Close()
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("echoed %d bytes, not the %d sent", out.Len(), len(in))
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Metrics().SessionsOpen() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	wantToAgent := int64(len(in)) + 4*frame.HeaderSize + frame.HeaderSize // 4 stdin frames, close-stdin
	gotToAgent, gotToShim := e.srv.Metrics().Bytes()
	if gotToAgent != wantToAgent || gotToShim != toShim {
		t.Errorf("Bytes() = %d to agent, %d to shim; want %d, %d", gotToAgent, gotToShim, wantToAgent, toShim)
	}
}

// TestAgentPresence: the relay says whether a container's agent is
// connected, and for how long it has been gone, only to a caller with the
// container's agent token.
func TestAgentPresence(t *testing.T) {
	e := startRelay(t, server.Options{})
	ctx := context.Background()
	p, err := wsclient.AgentPresence(ctx, nil, e.url, "c1", ticket.AgentToken(secret, "c1"))
	if err != nil || p.Connected || p.GoneFor <= 0 {
		t.Fatalf("presence of a never-seen agent = %+v, %v; want not connected, gone since the relay started", p, err)
	}
	e.startAgent(t, "c1", testWorkload{})
	p, err = wsclient.AgentPresence(ctx, nil, e.url, "c1", ticket.AgentToken(secret, "c1"))
	if err != nil || !p.Connected || p.GoneFor != 0 {
		t.Fatalf("presence of a connected agent = %+v, %v", p, err)
	}
	if _, err := wsclient.AgentPresence(ctx, nil, e.url, "c1", ticket.AgentToken(secret, "c2")); err == nil {
		t.Fatal("presence asked with another container's token answered")
	}
}

// TestNotices: a watcher hears the notices of its own container only; a
// notice needs the container's agent token, a watch needs a watch ticket,
// and a watch ticket opens no stream.
func TestNotices(t *testing.T) {
	e := startRelay(t, server.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchTok := func(container, kind string) string {
		tok, err := ticket.Sign(secret, ticket.Grant{Container: container, Session: "w-" + container + kind, Kind: kind, Expires: time.Now().Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	d := wsclient.Dialer{}
	a, err := d.Watch(ctx, e.url, watchTok("A", ticket.KindWatch))
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Watch(ctx, e.url, watchTok("B", ticket.KindWatch))
	if err != nil {
		t.Fatal(err)
	}
	n := wsclient.Notifier{RelayURL: e.url, Secret: secret}
	if err := n.Notify(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("A's watcher heard nothing")
	}
	// B hears its own notice (routing is by container: the hub's test
	// checks that a notice for A never reaches B's channel).
	if err := n.Notify(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b:
	case <-time.After(time.Minute):
		t.Fatal("B's watcher heard nothing")
	}
	select {
	case <-b:
		t.Fatal("B's watcher heard a notice that was not B's")
	default:
	}
	if err := (wsclient.Notifier{RelayURL: e.url, Secret: []byte("forged")}).Notify(ctx, "A"); err == nil {
		t.Error("a notice with a forged agent token was taken")
	}
	if _, err := d.Watch(ctx, e.url, watchTok("A", ticket.KindExec)); err == nil {
		t.Error("an exec ticket was taken as a watch ticket")
	}
	if _, err := d.Dial(ctx, e.url, watchTok("A", ticket.KindWatch)); err == nil {
		t.Error("a watch ticket opened a stream")
	}
}
