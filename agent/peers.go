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
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
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
type PeerProxy struct {
	ControlPlaneURL string
	Container       string
	Token           string
	Dialer          RelayDialer
	// Client reaches functions; nil uses a client with a 30 s timeout.
	Client *http.Client
	Logger *slog.Logger
}

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
			tunnel.Bridge(c, remote)
		}()
	}
}

// Dial opens a tunnel session to port of the peer named name.
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
	var t controlapi.StreamTicket
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, err
	}
	if t.Token == "" {
		return nil, errors.New("no ticket in functions' answer")
	}
	return p.Dialer.Dial(ctx, t.RelayURL, t.Token)
}
