// Package server is the network relay: a WebSocket service where agents
// keep control connections (one per container, authenticated with the
// per-container agent token) and shims open streams with signed tickets.
// For each ticket it offers the session to the ticket's container's agent,
// waits for the agent's data stream for that session, and copies bytes
// between the two until either ends. The protocol is defined in package
// relay/wsclient.
//
// Nothing is looked up in a state store: tickets and agent tokens are
// HMACs over the deployment secret. A session can only be joined by a
// connection carrying the agent token of the ticket's container.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// Options configures a Server. Secret is required.
type Options struct {
	// Secret verifies tickets and agent tokens.
	Secret []byte
	// AgentWait is how long a stream waits for its container's agent to
	// be connected (default 2 min; cloud workloads take a while to boot).
	AgentWait time.Duration
	// JoinTimeout is how long an offered session waits for the agent's
	// data stream (default 30 s).
	JoinTimeout time.Duration
	// HandshakeTimeout bounds WebSocket upgrades (default 10 s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a paired session after this long without bytes
	// in either direction; 0 means never (dead peers are found by TCP
	// keepalive).
	IdleTimeout time.Duration
	// PingInterval is how often agents' control connections are pinged
	// (default 15 s); an agent silent for three intervals is dropped.
	PingInterval time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Now is the clock for ticket expiry (default time.Now).
	Now func() time.Time
	// Blobs configures the blob store (blob.go).
	Blobs BlobOptions
	// Peers lists the relay's instances when several run behind one load
	// balancer (cluster.go); nil means this is the only one.
	Peers Peers
	// Self is this instance's URL as it appears in Peers' list
	// (http://ADDRESS:PORT); required with Peers.
	Self string
	// PeerRefresh is how often a stream waiting for its agent reads the
	// peer list again (default 5 s).
	PeerRefresh time.Duration
	// PeerClient makes requests to peers (default: an http.Client without
	// a timeout; requests are bounded by their contexts).
	PeerClient *http.Client
}

// Server is the relay. It is an http.Handler. Safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	up       websocket.Upgrader // agents' control connections
	data     websocket.Upgrader // session legs
	mux      *http.ServeMux
	metrics  *Metrics
	blobs    *blobStore
	sessions sync.WaitGroup
	draining atomic.Bool

	mu      sync.Mutex
	agents  map[string]*agentConn
	nextID  uint64
	waiting map[string]chan struct{}
	// upgrading counts each container's agents whose handshake is being
	// answered: an agent that has seen its handshake complete is
	// present, though it is registered in agents just after.
	upgrading map[string]int
	pending   map[string]*pendingSession
	used      map[string]int64 // session -> ticket expiry, refuses replays
	live      map[*liveSession]struct{}
	// lost is when each container's agent last disconnected, for presence
	// questions; started stands in for containers never seen since.
	lost    map[string]time.Time
	started time.Time
	// watchers are the notice subscriptions per container.
	watchers map[string]map[chan struct{}]struct{}

	peerToken  string
	peerClient *http.Client
}

type agentConn struct {
	id  uint64
	ws  *websocket.Conn
	wmu sync.Mutex
}

func (a *agentConn) offer(o wsclient.Offer) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_ = a.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return a.ws.WriteMessage(websocket.TextMessage, b)
}

type pendingSession struct {
	container string
	join      chan *joining
	done      chan struct{} // closed when the stream side gives up or is paired
}

// joining is an agent's data stream on its way to its session: the
// stream side answers whether both legs are raw streams (path) before the
// agent's leg is upgraded, so the 101 answers to both sides can say so
// (wsclient.HeaderRawPath), and gets the upgraded leg back (nil when the
// upgrade failed).
type joining struct {
	raw  bool
	path chan bool
	leg  chan *leg
}

type liveSession struct{ shim, agent *leg }

// New returns a relay server.
func New(opts Options) (*Server, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("relay server: Secret is required")
	}
	if opts.AgentWait <= 0 {
		opts.AgentWait = 2 * time.Minute
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = 30 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PeerRefresh <= 0 {
		opts.PeerRefresh = 5 * time.Second
	}
	opts.Self = strings.TrimSuffix(opts.Self, "/")
	if opts.Peers != nil && opts.Self == "" {
		return nil, errors.New("relay server: Self is required with Peers")
	}
	if opts.PeerClient == nil {
		opts.PeerClient = &http.Client{Transport: http.DefaultTransport}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts, log: log, metrics: newMetrics(),
		up: websocket.Upgrader{
			HandshakeTimeout: opts.HandshakeTimeout,
			ReadBufferSize:   controlBufferSize,
			WriteBufferSize:  controlBufferSize,
			// Write buffers are taken from a pool only while a message is
			// written, so idle agents and quiet sessions hold none.
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     func(*http.Request) bool { return true }, // not a browser service; auth is the bearer
		},
		data: websocket.Upgrader{
			HandshakeTimeout: opts.HandshakeTimeout,
			ReadBufferSize:   dataReadBuffer,
			WriteBufferSize:  dataWriteBuffer,
			WriteBufferPool:  &sync.Pool{},
			CheckOrigin:      func(*http.Request) bool { return true },
		},
		agents:    map[string]*agentConn{},
		waiting:   map[string]chan struct{}{},
		upgrading: map[string]int{},
		pending:   map[string]*pendingSession{},
		used:      map[string]int64{},
		live:      map[*liveSession]struct{}{},
		lost:      map[string]time.Time{},
		watchers:  map[string]map[chan struct{}]struct{}{},
		started:   time.Now(),

		peerToken:  PeerToken(opts.Secret),
		peerClient: opts.PeerClient,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	mux.HandleFunc("GET "+wsclient.PathAgent, s.serveAgent)
	mux.HandleFunc("GET "+wsclient.PathAgentPresence, s.servePresence)
	mux.HandleFunc("POST "+wsclient.PathNotice, s.serveNotice)
	mux.HandleFunc("GET "+wsclient.PathWatch, s.serveWatch)
	mux.HandleFunc("GET "+wsclient.PathAgentSession, s.serveAgentSession)
	mux.HandleFunc("GET "+wsclient.PathStream, s.serveStream)
	s.blobRoutes(mux)
	s.mux = mux
	return s, nil
}

// HTTPServer returns an http.Server for s whose handshake limits match
// the relay's: a client has HandshakeTimeout to send its request headers
// (a slow-loris client is cut off then) and at most 16 KiB of them.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s, ReadHeaderTimeout: s.opts.HandshakeTimeout, MaxHeaderBytes: 16 << 10}
}

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = s.metrics.WriteText(w)
	_ = s.blobs.writeMetrics(w)
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// refuse answers an HTTP error and counts it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, reason, msg string) {
	s.metrics.reject(reason)
	s.log.Info("relay refused", "path", r.URL.Path, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, msg, code)
}

// maxLost bounds how many disconnection times the relay remembers; the
// oldest are forgotten first (a container unseen for longer than any
// grace period is as good as never seen).
const maxLost = 100000

// noteLost records that container's agent disconnected at t. Called with
// s.mu held.
func (s *Server) noteLost(container string, t time.Time) {
	if len(s.lost) >= maxLost {
		for c, at := range s.lost {
			if t.Sub(at) > time.Hour {
				delete(s.lost, c)
			}
		}
	}
	s.lost[container] = t
}

// servePresence answers whether a container's agent is connected, and if
// not for how long it has been gone (since the relay started, when it
// has not been seen since): the control plane's sweep uses it to tell a
// vanished workload from a reconnecting one. It authenticates with the
// container's agent token, which only functions and the agent can make.
func (s *Server) servePresence(w http.ResponseWriter, r *http.Request) {
	container := r.URL.Query().Get("container")
	if container == "" || !ticket.VerifyAgentToken(s.opts.Secret, container, bearer(r)) {
		s.refuse(w, r, http.StatusUnauthorized, ReasonAgentToken, "invalid agent token for this container")
		return
	}
	// Another instance looking for the agent may wait for it here
	// (cluster.go's locate).
	if s.fromPeer(r) {
		wait, err := s.waitParam(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			_, _ = s.agentFor(ctx, container)
			cancel()
		}
	}
	s.mu.Lock()
	_, connected := s.agents[container]
	connected = connected || s.upgrading[container] > 0
	since, ok := s.lost[container]
	s.mu.Unlock()
	if !ok {
		since = s.started
	}
	p := wsclient.Presence{Connected: connected}
	if !connected {
		p.GoneFor = time.Since(since)
		if s.clustered(r) {
			p = s.peerPresence(r.Context(), container, p)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}

// serveAgent holds an agent's control connection.
func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	container := r.URL.Query().Get("container")
	if container == "" || !ticket.VerifyAgentToken(s.opts.Secret, container, bearer(r)) {
		s.refuse(w, r, http.StatusUnauthorized, ReasonAgentToken, "invalid agent token for this container")
		return
	}
	s.mu.Lock()
	s.upgrading[container]++
	s.mu.Unlock()
	ws, err := s.up.Upgrade(w, r, nil)
	s.mu.Lock()
	if s.upgrading[container]--; s.upgrading[container] <= 0 {
		delete(s.upgrading, container)
	}
	if err != nil {
		s.mu.Unlock()
		return
	}
	a := &agentConn{ws: ws}
	s.nextID++
	a.id = s.nextID
	old := s.agents[container]
	s.agents[container] = a
	if ch, ok := s.waiting[container]; ok {
		close(ch)
		delete(s.waiting, container)
	}
	s.mu.Unlock()
	if old != nil {
		_ = old.ws.Close() // replaced by a reconnect
	} else {
		s.metrics.agents.Add(1)
	}
	s.log.Debug("agent connected", "container", container)
	defer func() {
		s.mu.Lock()
		if cur := s.agents[container]; cur == a {
			delete(s.agents, container)
			s.metrics.agents.Add(-1)
			s.noteLost(container, time.Now())
		}
		s.mu.Unlock()
		_ = ws.Close()
		s.log.Debug("agent disconnected", "container", container)
	}()

	deadline := 3 * s.opts.PingInterval
	_ = ws.SetReadDeadline(time.Now().Add(deadline))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(deadline)) })
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(s.opts.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
					_ = ws.Close()
					return
				}
			}
		}
	}()
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(deadline))
	}
}

// serveAgentSession joins an agent's data stream to its pending session.
func (s *Server) serveAgentSession(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	container, session := q.Get("container"), q.Get("session")
	if container == "" || !ticket.VerifyAgentToken(s.opts.Secret, container, bearer(r)) {
		s.refuse(w, r, http.StatusUnauthorized, ReasonAgentToken, "invalid agent token for this container")
		return
	}
	s.mu.Lock()
	p, ok := s.pending[session]
	if ok && subtle.ConstantTimeCompare([]byte(p.container), []byte(container)) == 1 {
		if !wantsUpgrade(r) {
			s.mu.Unlock()
			s.refuseNoUpgrade(w, r) // the session stays pending
			return
		}
		delete(s.pending, session)
	} else if ok {
		ok = false
		s.mu.Unlock()
		s.refuse(w, r, http.StatusForbidden, ReasonCrossContainer, "session belongs to another container")
		return
	}
	s.mu.Unlock()
	if !ok {
		// The session may be pending on the instance that offered it
		// (the load balancer sent the data stream elsewhere).
		if via := q.Get("via"); s.clustered(r) && via != s.opts.Self && s.isPeer(r.Context(), via) {
			s.forward(w, r, via)
			return
		}
		http.Error(w, "no such pending session", http.StatusNotFound)
		return
	}
	j := &joining{raw: s.rawCapable(r), path: make(chan bool, 1), leg: make(chan *leg, 1)}
	select {
	case p.join <- j:
	case <-p.done:
		http.Error(w, "the session's stream has gone", http.StatusNotFound)
		return
	}
	l, err := s.upgrade(w, r, <-j.path)
	if err != nil {
		l = nil
	}
	j.leg <- l
}

// serveStream verifies a shim's ticket, has the agent join, and pairs.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	g, err := ticket.Verify(s.opts.Secret, bearer(r), now)
	switch {
	case errors.Is(err, ticket.ErrSignature):
		s.refuse(w, r, http.StatusForbidden, ReasonForged, "ticket signature is invalid")
		return
	case errors.Is(err, ticket.ErrExpired):
		s.refuse(w, r, http.StatusForbidden, ReasonExpired, "ticket has expired")
		return
	case err != nil:
		s.refuse(w, r, http.StatusForbidden, ReasonMalformed, "ticket is malformed")
		return
	case g.Kind == ticket.KindWatch:
		s.refuse(w, r, http.StatusForbidden, ReasonMalformed, "a watch ticket opens no stream")
		return
	}
	if s.refuseNoUpgrade(w, r) {
		return
	}
	if s.draining.Load() {
		s.refuse(w, r, http.StatusServiceUnavailable, ReasonDraining, "relay is draining; retry on another replica")
		return
	}
	agentWait := s.opts.AgentWait
	switch {
	case s.clustered(r):
		// The agent may be connected to another instance, or connect to
		// any of them later: find it, and hand the stream to its
		// instance, which checks the ticket again and refuses replays.
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.AgentWait)
		owner, err := s.locate(ctx, g.Container)
		cancel()
		if err != nil {
			s.refuse(w, r, http.StatusServiceUnavailable, ReasonNoAgent, fmt.Sprintf("no agent connected for container %s", g.Container))
			return
		}
		if owner != "" {
			s.forward(w, r, owner)
			return
		}
	case s.fromPeer(r):
		// The forwarding instance saw the agent here just now; if it has
		// moved on since, fail soon so the shim retries.
		agentWait = min(agentWait, s.opts.PeerRefresh)
	}
	s.mu.Lock()
	for sid, exp := range s.used {
		if now.Unix() > exp+1 {
			delete(s.used, sid)
		}
	}
	if _, dup := s.used[g.Session]; dup {
		s.mu.Unlock()
		s.refuse(w, r, http.StatusForbidden, ReasonReplayed, "ticket has already been used")
		return
	}
	s.used[g.Session] = g.Expires
	s.mu.Unlock()

	s.sessions.Add(1)
	defer s.sessions.Done()
	ctx, cancel := context.WithTimeout(r.Context(), agentWait)
	defer cancel()
	p := &pendingSession{container: g.Container, join: make(chan *joining), done: make(chan struct{})}
	s.mu.Lock()
	s.pending[g.Session] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, g.Session)
		s.mu.Unlock()
	}()
	var j *joining
	for j == nil {
		a, err := s.agentFor(ctx, g.Container)
		if err != nil {
			close(p.done)
			s.refuse(w, r, http.StatusServiceUnavailable, ReasonNoAgent, fmt.Sprintf("no agent connected for container %s", g.Container))
			return
		}
		if err := a.offer(wsclient.Offer{Session: g.Session, Grant: g, Via: s.opts.Self}); err != nil {
			_ = a.ws.Close()
			continue // the agent's connection is broken; wait for its reconnect
		}
		join := time.NewTimer(s.opts.JoinTimeout)
		select {
		case j = <-p.join:
		case <-join.C:
			close(p.done)
			s.refuse(w, r, http.StatusGatewayTimeout, ReasonNoAgent, "the agent did not open the session in time")
			return
		case <-ctx.Done():
			close(p.done)
			join.Stop()
			s.refuse(w, r, http.StatusServiceUnavailable, ReasonNoAgent, "stream cancelled while waiting for the agent")
			return
		}
		join.Stop()
	}
	close(p.done)
	rawPath := j.raw && s.rawCapable(r)
	j.path <- rawPath
	agentLeg := <-j.leg
	if agentLeg == nil {
		s.refuse(w, r, http.StatusBadGateway, ReasonNoAgent, "the agent's stream failed to open")
		return
	}
	shimLeg, err := s.upgrade(w, r, rawPath)
	if err != nil {
		agentLeg.finish(0, true)
		return
	}
	s.pipe(shimLeg, agentLeg, g, rawPath && g.Kind == ticket.KindTunnel)
}

func (s *Server) agentFor(ctx context.Context, container string) (*agentConn, error) {
	for {
		s.mu.Lock()
		a, ok := s.agents[container]
		if ok {
			s.mu.Unlock()
			return a, nil
		}
		ch, ok := s.waiting[container]
		if !ok {
			ch = make(chan struct{})
			s.waiting[container] = ch
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pipe copies between the two legs until either ends, then closes both
// gracefully. Two WebSockets are joined message by message; a raw leg
// and any other as byte streams (copyLeg). A tunnel whose legs are both
// raw carries a TCP connection unframed (wsclient.HeaderRawPath): each
// direction's end is passed on as a half-close and the session lasts
// until both have ended, as a TCP proxy does (halfClose).
func (s *Server) pipe(shim, agent *leg, g ticket.Grant, halfClose bool) {
	ls := &liveSession{shim: shim, agent: agent}
	s.mu.Lock()
	s.live[ls] = struct{}{}
	s.mu.Unlock()
	s.metrics.sessionsOpen.Add(1)
	s.metrics.sessionsTotal.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.live, ls)
		s.mu.Unlock()
		s.metrics.sessionsOpen.Add(-1)
	}()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	ended := make(chan struct{}, 2)
	if halfClose {
		s.pipeHalves(shim, agent, &last, g)
		return
	}
	if shim.ws != nil && agent.ws != nil {
		go func() { copyMessages(agent.ws, shim.ws, &s.metrics.bytesToAgent, &last); ended <- struct{}{} }()
		go func() { copyMessages(shim.ws, agent.ws, &s.metrics.bytesToShim, &last); ended <- struct{}{} }()
	} else {
		timed := s.opts.IdleTimeout > 0
		go func() { copyLeg(agent, shim, &s.metrics.bytesToAgent, &last, timed); ended <- struct{}{} }()
		go func() { copyLeg(shim, agent, &s.metrics.bytesToShim, &last, timed); ended <- struct{}{} }()
	}

	var idle <-chan time.Time
	if s.opts.IdleTimeout > 0 {
		t := time.NewTicker(min(s.opts.IdleTimeout/4+time.Millisecond, time.Minute))
		defer t.Stop()
		idle = t.C
	}
	for {
		select {
		case <-ended:
			// One side ended the session: tell both, let each drain its
			// input, then close.
			shim.finish(wsclient.Linger, false)
			agent.finish(wsclient.Linger, false)
			select {
			case <-ended:
			case <-time.After(wsclient.Linger + time.Second):
			}
			_ = shim.Close()
			_ = agent.Close()
			s.log.Debug("session closed", "container", g.Container, "kind", g.Kind, "session", g.Session)
			return
		case <-idle:
			if time.Since(time.Unix(0, last.Load())) > s.opts.IdleTimeout {
				s.log.Info("closing idle session", "container", g.Container, "session", g.Session)
				_ = shim.Close()
				_ = agent.Close()
			}
		}
	}
}

// Buffer sizes of the relay's WebSocket connections. Control connections
// carry only offers and pongs, so an idle agent holds 1 KiB. Session legs
// read a message's header through a 1 KiB buffer and its payload straight
// into the pooled copy buffer (bufio skips its buffer for reads larger
// than itself), and write with WriteMessage, which sends a payload that
// does not fit its write buffer from the caller's slice (writev), so
// neither needs large buffers of its own.
const (
	controlBufferSize = 1 << 10
	dataReadBuffer    = 1 << 10
	dataWriteBuffer   = 512
)

// copyBufferSize is the buffer a session direction borrows while it
// forwards one message: a whole message up to this size is read into it
// and written on with one writev; larger ones are streamed through it.
const copyBufferSize = wsclient.BufferSize

var copyPool = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// copyMessages forwards src's messages to dst, each through a pooled
// buffer of copyBufferSize so memory stays bounded whatever the message
// size and a quiet session holds none; a blocked dst stops reads from
// src. When dst fails it keeps draining src (so src is not reset with
// unread data) until src ends.
func copyMessages(dst, src *websocket.Conn, n *atomic.Int64, last *atomic.Int64) {
	dstOK := true
	for {
		mt, r, err := src.NextReader()
		if err != nil {
			return
		}
		last.Store(time.Now().UnixNano())
		if !dstOK || (mt != websocket.BinaryMessage && mt != websocket.TextMessage) {
			_, _ = io.Copy(io.Discard, r)
			continue
		}
		bp := copyPool.Get().(*[]byte)
		k, srcOK, err := forward(dst, mt, r, *bp)
		copyPool.Put(bp)
		n.Add(k)
		if err != nil {
			dstOK = false
		}
		if !srcOK {
			return
		}
	}
}

// forward writes one message read from r to dst and returns the bytes
// forwarded, whether r (the source) is still sound, and dst's error. The message is read into buf;
// when it fits (the usual case: one frame of at most 64 KiB from a
// process pipe) it is sent with WriteMessage, which on a server
// connection writes header and buf in one writev without copying buf.
// The relay's connections have small read buffers, so the payload is
// read from the socket straight into buf too.
func forward(dst *websocket.Conn, mt int, r io.Reader, buf []byte) (int64, bool, error) {
	k, err := io.ReadFull(r, buf)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // the whole message is in buf
		return int64(k), true, dst.WriteMessage(mt, buf[:k])
	case nil: // longer than buf: stream it in fragments
	default:
		return 0, false, nil
	}
	w, err := dst.NextWriter(mt)
	if err != nil {
		_, _ = io.Copy(io.Discard, r)
		return 0, true, err
	}
	var total int64
	for {
		if _, err := w.Write(buf[:k]); err != nil {
			_, _ = io.Copy(io.Discard, r)
			return total, true, err
		}
		total += int64(k)
		k, err = io.ReadFull(r, buf)
		switch err {
		case nil:
			continue
		case io.EOF, io.ErrUnexpectedEOF:
			if _, err := w.Write(buf[:k]); err != nil {
				return total, true, err
			}
			return total + int64(k), true, w.Close()
		default:
			// src broke mid-message: leave the message unfinished (the
			// peer sees the close, never a truncated message as whole).
			return total, false, nil
		}
	}
}

// Drain stops accepting new streams (/healthz answers 503 so load
// balancers move away), waits for open sessions to end or ctx to expire,
// then closes every connection.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan struct{})
	go func() { s.sessions.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("relay drain: %d sessions still open: %w", s.metrics.SessionsOpen(), ctx.Err())
	}
	s.Close()
	return err
}

// Close closes every agent connection and session at once.
func (s *Server) Close() {
	s.blobs.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		_ = a.ws.Close()
	}
	for ls := range s.live {
		_ = ls.shim.Close()
		_ = ls.agent.Close()
	}
}
