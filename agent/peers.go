package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/direct"
	"github.com/sockerless/sockerless/relay/tunnel"
)

// PeerForward is one address in the workload that the agent listens on
// for connections to a peer: a container of the same user network named
// by its name, an alias or its address, on Port.
type PeerForward struct {
	Listen string // host:port inside the workload, e.g. 127.0.0.1:5432
	Peer   string // the peer's name, alias or address
	Port   int    // the port in the peer's workload
}

// ParsePeers reads SOCKERLESS_PEERS: comma-separated LISTEN=PEER:PORT
// entries ("127.0.0.1:5432=postgres:5432").
func ParsePeers(s string) ([]PeerForward, error) {
	var out []PeerForward
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		listen, target, ok := strings.Cut(e, "=")
		host, port, err := net.SplitHostPort(target)
		n, perr := strconv.Atoi(port)
		if !ok || err != nil || perr != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("peer forward %q: want LISTEN=PEER:PORT", e)
		}
		if _, _, err := net.SplitHostPort(listen); err != nil {
			return nil, fmt.Errorf("peer forward %q: %w", e, err)
		}
		out = append(out, PeerForward{Listen: listen, Peer: host, Port: n})
	}
	return out, nil
}

// RelayDialer opens a stream to the relay with a ticket (wsclient.Dialer).
type RelayDialer interface {
	Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error)
}

// PeerProxy carries the workload's connections to its network's peers
// through the relay: for each accepted connection it asks functions for
// a tunnel ticket to the peer (with the agent's own token, so functions
// authorises it against this container's networks) and bridges the
// connection to the peer's agent, which dials the port in its workload.
// When functions also offers a direct connection to the peer's agent
// (package relay/direct: the two workloads can reach each other), that
// is tried first and the relay is the fallback.
type PeerProxy struct {
	ControlPlaneURL string
	Container       string
	Token           string
	Dialer          RelayDialer
	// RelayOnly never tries a direct connection (to measure the relay).
	RelayOnly bool
	// Client reaches functions; nil uses a client with a 30 s timeout.
	Client *http.Client
	Logger *slog.Logger

	// unreachable holds direct addresses that failed to connect, so each
	// connection does not wait for them again (until the entry expires).
	unreachable sync.Map // address -> time.Time
}

// directTimeout bounds a direct connection's dial (the peer's agent
// answers within direct.HandshakeTimeout once connected); past it the
// relay is used.
const directTimeout = time.Second

// unreachableFor is how long a direct address that failed is skipped.
const unreachableFor = time.Minute

// Listen listens on every forward's address (so the workload's processes
// find them in place before they start) and serves them until ctx ends.
func (p *PeerProxy) Listen(ctx context.Context, fwds []PeerForward) error {
	var lns []net.Listener
	for _, f := range fwds {
		ln, err := net.Listen("tcp", f.Listen)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("peer forward to %s:%d: %w", f.Peer, f.Port, err)
		}
		lns = append(lns, ln)
	}
	for i, ln := range lns {
		context.AfterFunc(ctx, func() { ln.Close() })
		go p.accept(ctx, ln, fwds[i])
	}
	return nil
}

func (p *PeerProxy) accept(ctx context.Context, ln net.Listener, f PeerForward) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			remote, err := p.Dial(ctx, f.Peer, f.Port)
			if err != nil {
				if p.Logger != nil {
					p.Logger.Warn("connection to peer refused", "peer", f.Peer, "port", f.Port, "err", err)
				}
				return
			}
			defer remote.Close()
			if dc, ok := remote.(directConn); ok {
				direct.Pipe(c, dc.Conn)
				return
			}
			tunnel.Bridge(c, remote)
		}()
	}
}

// directConn is a connection Dial made directly to the peer's agent: it
// carries the port's bytes unframed, where a relay session carries frames.
type directConn struct{ net.Conn }

// Dial opens a connection to port of the peer named name: a directConn
// when the peer's agent took one, else a tunnel session of the relay.
func (p *PeerProxy) Dial(ctx context.Context, name string, port int) (io.ReadWriteCloser, error) {
	u := strings.TrimSuffix(p.ControlPlaneURL, "/") + "/_sockerless/agent/" + url.PathEscape(p.Container) + "/peer?" +
		url.Values{"name": {name}, "port": {strconv.Itoa(port)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var m struct{ Message string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
		return nil, fmt.Errorf("%s: %s", resp.Status, m.Message)
	}
	var t controlapi.PeerTicket
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, err
	}
	if t.Token == "" {
		return nil, errors.New("no ticket in functions' answer")
	}
	if t.Direct != nil && !p.RelayOnly {
		if c := p.dialDirect(ctx, *t.Direct); c != nil {
			return directConn{c}, nil
		}
	}
	return p.Dialer.Dial(ctx, t.RelayURL, t.Token)
}

// dialDirect tries the offer's addresses not known to be unreachable;
// nil means use the relay.
func (p *PeerProxy) dialDirect(ctx context.Context, o direct.Offer) net.Conn {
	now := time.Now()
	addrs := o.Addrs[:0:0]
	for _, a := range o.Addrs {
		if until, ok := p.unreachable.Load(a); ok && now.Before(until.(time.Time)) {
			continue
		}
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		one := o
		one.Addrs = []string{a}
		c, err := direct.Dial(ctx, one, directTimeout)
		if err == nil {
			return c
		}
		if !errors.Is(err, direct.ErrRefused) {
			// The address does not take connections (a refusal or a slow
			// answer comes from the peer's agent, not from the address).
			p.unreachable.Store(a, now.Add(unreachableFor))
		}
		if p.Logger != nil {
			p.Logger.Debug("direct connection to a peer failed; using the relay", "addr", a, "err", err)
		}
	}
	return nil
}
