package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// Running several relay instances behind one load balancer.
//
// A shim's stream and its container's agent may reach different
// instances. Every instance keeps what it holds (agents' control
// connections, pending sessions, watchers, blobs) in memory, as a single
// instance does, and an instance that receives a request for something
// another instance holds forwards the whole request to that instance over
// a direct connection between instances (the load balancer is not in the
// path): the byte streams are spliced, never re-framed. Where a thing is
// is found by asking the other instances, which the Peers function lists
// (DNS names of the service's tasks, or a fixed list); nothing is written
// to a state store, so an agent connecting costs no write and an instance
// that goes away leaves nothing stale behind.
//
//   - A stream whose agent is elsewhere is forwarded to the agent's
//     instance, found with a long poll of every instance's presence
//     endpoint (an agent that has not connected yet is waited for on all
//     of them at once).
//   - An offer names the offering instance (Offer.Via); the agent sends
//     it back with its data stream, and the instance that receives the
//     data stream forwards it to the named instance if it is a peer.
//   - Presence is the union of the instances' answers; notices are
//     delivered to every instance's watchers; a blob fetch that misses
//     locally is tried on each peer.
//
// A forwarded request carries the peer header, an HMAC of the deployment
// secret, besides its own credential (ticket or agent token), which the
// receiving instance checks as usual; a request with the peer header is
// served locally only, so forwarding never loops.

// Peers lists the base URLs (http://host:port) of the relay's instances.
// The list may include this instance (Options.Self), which is skipped.
type Peers func(ctx context.Context) ([]string, error)

// StaticPeers returns a Peers that always lists urls.
func StaticPeers(urls ...string) Peers {
	urls = slices.Clone(urls)
	return func(context.Context) ([]string, error) { return urls, nil }
}

// DNSPeers returns a Peers that resolves host (for example the DNS name
// ECS service discovery keeps with one A record per running task) and
// lists http://ADDRESS:port for each address.
func DNSPeers(host string, port int) Peers {
	r := net.DefaultResolver
	return func(ctx context.Context) ([]string, error) {
		addrs, err := r.LookupHost(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("relay peers: resolving %s: %w", host, err)
		}
		out := make([]string, 0, len(addrs))
		for _, a := range addrs {
			out = append(out, "http://"+net.JoinHostPort(a, strconv.Itoa(port)))
		}
		return out, nil
	}
}

// HeaderPeer marks a request forwarded by another relay instance; its
// value is PeerToken of the deployment secret.
const HeaderPeer = "X-Sockerless-Relay-Peer"

// PeerToken is the credential instances of one deployment present to
// each other: an HMAC of the deployment secret, so only holders of the
// secret can make it.
func PeerToken(secret []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("sockerless relay peer v1"))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// fromPeer reports whether r was forwarded by another instance with the
// right peer token.
func (s *Server) fromPeer(r *http.Request) bool {
	v := r.Header.Get(HeaderPeer)
	return v != "" && hmac.Equal([]byte(v), []byte(s.peerToken))
}

// clustered reports whether r may be forwarded to peers: there are peers
// and r did not come from one.
func (s *Server) clustered(r *http.Request) bool {
	return s.opts.Peers != nil && !s.fromPeer(r)
}

// peers lists the other instances. A failure to list them is logged and
// treated as no peers: this instance still serves what it holds.
func (s *Server) peers(ctx context.Context) []string {
	if s.opts.Peers == nil {
		return nil
	}
	all, err := s.opts.Peers(ctx)
	if err != nil {
		s.log.Warn("relay peers unavailable", "err", err)
		return nil
	}
	out := make([]string, 0, len(all))
	for _, p := range all {
		p = strings.TrimSuffix(p, "/")
		if p != "" && p != s.opts.Self && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// peerRequest makes a request to peer for path with r's bearer (or
// bearer when set) and the peer header.
func (s *Server) peerRequest(ctx context.Context, method, peer, path string, q url.Values, bearerTok string) (*http.Response, error) {
	u := peer + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bearerTok)
	req.Header.Set(HeaderPeer, s.peerToken)
	return s.peerClient.Do(req)
}

// forward hands r whole to peer (WebSocket upgrades included) and copies
// its answer back.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, peer string) {
	target, err := url.Parse(peer)
	if err != nil {
		http.Error(w, "relay: bad peer address", http.StatusBadGateway)
		return
	}
	s.metrics.forwarded.Add(1)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(HeaderPeer, s.peerToken)
		},
		Transport: s.peerClient.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn("relay forward failed", "peer", peer, "path", r.URL.Path, "err", err)
			http.Error(w, "relay: the instance holding this connection is unavailable; retry", http.StatusServiceUnavailable)
		},
		ErrorLog: nil,
	}
	rp.ServeHTTP(w, r)
}

// locate finds the instance holding container's agent, waiting until ctx
// ends for it to connect anywhere: "" is this instance, otherwise the
// peer's URL. The peer list is read again every PeerRefresh so instances
// started during the wait are asked too.
func (s *Server) locate(ctx context.Context, container string) (string, error) {
	s.mu.Lock()
	_, here := s.agents[container]
	s.mu.Unlock()
	if here {
		return "", nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	found := make(chan string, 1)
	report := func(where string) {
		select {
		case found <- where:
		default:
		}
	}
	go func() {
		if _, err := s.agentFor(ctx, container); err == nil {
			report("")
		}
	}()
	asked := map[string]bool{}
	ask := func() {
		for _, p := range s.peers(ctx) {
			if asked[p] {
				continue
			}
			asked[p] = true
			go func() {
				// A peer that fails (gone, refusing) is asked again at the
				// next refresh, unless ctx ended.
				if s.peerHolds(ctx, p, container) {
					report(p)
				}
			}()
		}
	}
	ask()
	refresh := time.NewTicker(s.opts.PeerRefresh)
	defer refresh.Stop()
	for {
		select {
		case where := <-found:
			return where, nil
		case <-refresh.C:
			clear(asked)
			ask()
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// peerHolds long-polls peer's presence endpoint until container's agent
// is connected there (true) or the peer or ctx gives up (false).
func (s *Server) peerHolds(ctx context.Context, peer, container string) bool {
	wait := s.opts.PeerRefresh
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	pctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	q := url.Values{"container": {container}, "wait": {wait.String()}}
	resp, err := s.peerRequest(pctx, http.MethodGet, peer, wsclient.PathAgentPresence, q, ticket.AgentToken(s.opts.Secret, container))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var p wsclient.Presence
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&p) == nil && p.Connected
}

// peerPresence merges the presence answers of every peer into p: the
// agent is connected if it is connected anywhere, and otherwise gone for
// the shortest time any instance reports.
func (s *Server) peerPresence(ctx context.Context, container string, p wsclient.Presence) wsclient.Presence {
	peers := s.peers(ctx)
	if len(peers) == 0 {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	tok := ticket.AgentToken(s.opts.Secret, container)
	for _, peer := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.peerRequest(ctx, http.MethodGet, peer, wsclient.PathAgentPresence, url.Values{"container": {container}}, tok)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var pp wsclient.Presence
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&pp) != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case p.Connected:
			case pp.Connected:
				p = pp
			case pp.GoneFor < p.GoneFor:
				p.GoneFor = pp.GoneFor
			}
		}()
	}
	wg.Wait()
	return p
}

// broadcastNotice passes a notice for container to every peer's
// watchers and waits for them to take it (each for at most 2 s).
func (s *Server) broadcastNotice(ctx context.Context, container string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	tok := ticket.AgentToken(s.opts.Secret, container)
	for _, peer := range s.peers(ctx) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.peerRequest(ctx, http.MethodPost, peer, wsclient.PathNotice, url.Values{"container": {container}}, tok)
			if err != nil {
				s.log.Debug("notice not passed to a peer", "peer", peer, "err", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}()
	}
	wg.Wait()
}

// peerBlob tries to fetch blob id from each peer in turn with r's ticket
// and answers with the first peer that holds it. It reports false, having
// written nothing, when none does.
func (s *Server) peerBlob(w http.ResponseWriter, r *http.Request) bool {
	for _, peer := range s.peers(r.Context()) {
		resp, err := s.peerRequest(r.Context(), http.MethodGet, peer, r.URL.Path, nil, bearer(r))
		if err != nil {
			continue
		}
		if resp.StatusCode == http.StatusNotFound {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			continue
		}
		for _, h := range []string{"Content-Type", "Content-Length"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		n, _ := io.Copy(w, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			s.blobs.bytesOut.Add(n)
		}
		s.metrics.forwarded.Add(1)
		return true
	}
	return false
}

// isPeer reports whether u is one of the listed peers (an agent's Via is
// only followed to a peer, never to an address a client names).
func (s *Server) isPeer(ctx context.Context, u string) bool {
	return u != "" && slices.Contains(s.peers(ctx), strings.TrimSuffix(u, "/"))
}

// waitParam reads a presence request's wait parameter (peers only),
// bounded by AgentWait.
func (s *Server) waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("wait: want a non-negative duration")
	}
	return min(d, s.opts.AgentWait), nil
}
