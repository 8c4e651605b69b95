package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sockerless/sockerless/relay/direct"
)

// DirectListener takes direct connections from the agents of the
// workload's peers (package relay/direct), so that two workloads that can
// reach each other exchange bytes without the relay. It listens, reports
// where to functions (which offers those addresses to the peers it
// authorises) and serves each connection by dialling the port in the
// workload.
type DirectListener struct {
	ControlPlaneURL string
	Container       string
	Token           string
	// Listen is the address to listen on: "0.0.0.0:0" takes every
	// interface (peers are offered each address that is not loopback),
	// "127.0.0.1:0" suits workloads that share the host's loopback.
	Listen   string
	Workload Tunneler
	// Client reaches functions; nil uses a client with a 30 s timeout.
	Client *http.Client
	Logger *slog.Logger
}

// Start listens, then serves until ctx ends and reports the addresses
// in the background (peers use the relay until the report is in, so the
// main process does not wait for it). It returns the port listened on, which is the agent's and
// not the workload's (PeerNet.Exclude).
func (d *DirectListener) Start(ctx context.Context) (int, error) {
	ln, err := net.Listen("tcp", d.Listen)
	if err != nil {
		return 0, fmt.Errorf("direct connections: %w", err)
	}
	addrs, err := direct.Addrs(ln)
	if err != nil {
		ln.Close()
		return 0, fmt.Errorf("direct connections: %w", err)
	}
	if len(addrs) == 0 {
		ln.Close()
		return 0, ErrNoDirectAddress
	}
	s := &direct.Server{Container: d.Container, Token: d.Token, DialPort: d.Workload.DialPort, Logger: d.Logger}
	go func() { _ = s.Serve(ctx, ln) }()
	go d.reportRetrying(ctx, addrs)
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ErrNoDirectAddress is Start's answer in a workload with only a loopback
// interface (as the local AWS gives a task): peers use the relay, as they
// must.
var ErrNoDirectAddress = errors.New("direct connections: no address but loopback to offer peers")

func (d *DirectListener) report(ctx context.Context, addrs []string) error {
	body, _ := json.Marshal(map[string][]string{"addrs": addrs})
	return agentCall(ctx, d.Client, d.ControlPlaneURL, d.Container, d.Token, http.MethodPost, "direct", body, nil)
}

// reportRetrying reports addrs, retrying a failure a few times with
// backoff.
func (d *DirectListener) reportRetrying(ctx context.Context, addrs []string) {
	var err error
	for i := range 6 {
		if err = d.report(ctx, addrs); err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(1<<i) * time.Second):
		}
	}
	if d.Logger != nil {
		d.Logger.Warn("direct connections not reported: peers use the relay", "err", err)
	}
}
