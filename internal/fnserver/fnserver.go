// Package fnserver assembles the functions tier as a standalone HTTP
// service (the Cloud Run / container convention: listen on PORT) for
// split mode: the functions handler over a state store and a provider,
// issuing tickets for a network relay. cmd/sockerless-functions serves it;
// integration tests build their own binary around it with a test-only
// provider.
package fnserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/internal/sweeper"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
	"github.com/sockerless/sockerless/statestore"
)

// Config is what the functions service needs.
type Config struct {
	// Addr is where to listen (":PORT").
	Addr string
	// State names the state store ("memory").
	State string
	// RelayURL is the network relay's base URL, put in stream tickets.
	RelayURL string
	// Secret is the deployment secret shared with the relay.
	Secret []byte
	// Token is the bearer token shims must present.
	Token string
	// Auth, when set, authenticates shims instead of Token.
	Auth functions.Authenticator
	// PollWindow bounds single polls of long waits.
	PollWindow time.Duration
	// StoreTimeout bounds each state-store call (default
	// bounded.DefaultTimeout); past it the request answers 503.
	StoreTimeout time.Duration
	// Version is reported by /version.
	Version string
	// SweepInterval, when positive, makes this process call the reconcile
	// sweep itself, at that interval and when records ask (a restart by
	// policy). Zero leaves it to a scheduler calling functions.SweepPath.
	SweepInterval time.Duration
}

// NewProvider builds a provider. hub is an in-process relay its
// workloads' agents may register with; Run connects every agent
// registered there to the network relay (see Relayed).
type NewProvider func(hub *relay.Hub, rep providers.Reporter) (providers.Provider, error)

// Run serves functions on cfg.Addr until ctx ends. ready, when not nil,
// receives the listening address.
func Run(ctx context.Context, cfg Config, newProvider NewProvider, log *slog.Logger, ready func(addr string)) error {
	api, closeAPI, err := New(ctx, cfg, newProvider, log)
	if err != nil {
		return err
	}
	defer closeAPI()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("sockerless-functions listening", "addr", ln.Addr().String(), "relay", cfg.RelayURL, "provider", api.Provider().Name())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// New opens the state store and builds the functions API over it without
// serving it (a Lambda adapter serves it from events). close releases the
// store.
func New(ctx context.Context, cfg Config, newProvider NewProvider, log *slog.Logger) (api *functions.API, close func(), err error) {
	store, err := openStore(cfg.State, cfg.StoreTimeout)
	if err != nil {
		return nil, nil, err
	}
	hub := relay.NewHub(cfg.Secret)
	var sw *sweeper.Sweeper
	var wake func(time.Time)
	if cfg.SweepInterval > 0 {
		sw = sweeper.New(cfg.SweepInterval, log)
		wake = sw.Wake
	}
	api, err = functions.New(ctx, functions.Config{
		Store: store,
		NewProvider: func(rep providers.Reporter) (providers.Provider, error) {
			return newProvider(hub, rep)
		},
		Secret: cfg.Secret, RelayURL: cfg.RelayURL, Dialer: wsclient.Dialer{}, Token: cfg.Token, Auth: cfg.Auth,
		PollWindow: cfg.PollWindow, Logger: log, Version: cfg.Version,
		// Every platform bills a held request, and Lambda serves one
		// invocation per instance: the shim waits between polls instead.
		AnswerPollsAtOnce: true,
		Wake:              wake,
		// Exits and removals wake the shims waiting on them through the
		// relay.
		Notifier: wsclient.Notifier{RelayURL: cfg.RelayURL, Secret: cfg.Secret},
	})
	if err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	if sw == nil {
		return api, func() { api.Close(); _ = store.Close() }, nil
	}
	sw.Start(api.Sweep)
	return api, func() { sw.Stop(); api.Close(); _ = store.Close() }, nil
}

func openStore(name string, callTimeout time.Duration) (statestore.Store, error) {
	return OpenStoreWith(context.Background(), name, StoreOptions{CallTimeout: callTimeout})
}

// Relayed wraps an in-process provider whose workloads' agents register
// with hub, so that each workload is served by an agent that dials the
// network relay at relayURL exactly like a cloud agent: Create connects a
// wsclient.Agent for the container (with its derived agent token) and
// waits for the connection; every session the relay offers it is handed
// to the workload's registration in hub; Remove disconnects it.
// lostAfter is how long an agent must have been away from the relay
// before its workload counts as gone (0: WorkloadLostAfter).
//
// The wrapper implements only what the relay changes: Create and Remove
// (the agent's connection) and the two abilities about whether a
// workload is still there. Every other optional ability is found on p
// through providers.As (the wrapper is a providers.Unwrapper), so split
// mode has exactly p's abilities: a provider without one takes functions'
// path for a missing ability, and none is hidden. They pass through
// because they act on what p holds in this process, not on its agents'
// connections:
//
//   - providers.EarlyAttacher: p's agent registers in hub at Create, and
//     Create returns only once the relayed agent is on the relay, so an
//     attach through the relay is served from Create on too. (Were
//     Create to return before the connection, this would not hold.)
//   - the rest (Archiver, Processes, PIDReporter, UserChecker, Sizer,
//     Resizer, Pauser, BaseLayerer, LayerKeeper, RootRunner,
//     DefaultRooter, FlagApplier, VolumeRemover) read or change p's
//     workloads, layers and volumes, or describe p.
//
// Two do not pass through; the wrapper implements them itself:
//
//   - providers.Inspector: p knows only the workloads of this process,
//     while the relay knows every agent, whichever functions instance
//     started it and across a restart of this one (see Exists).
//   - providers.ExitInspector, which the sweep asks how a workload that
//     Inspector said is gone ended: p would answer about its own
//     process's workloads, not about the relay's account the sweep acted
//     on, and the relay keeps no exits. ExitOf answers that it does not
//     know (the sweep then records 255, as without the ability).
func Relayed(p providers.Provider, hub *relay.Hub, secret []byte, relayURL string, lostAfter time.Duration, log *slog.Logger) providers.Provider {
	if lostAfter <= 0 {
		lostAfter = WorkloadLostAfter
	}
	return &relayed{Provider: p, hub: hub, secret: secret, url: relayURL, log: log, agents: map[string]context.CancelFunc{}, lostAfter: lostAfter}
}

type relayed struct {
	providers.Provider
	hub    *relay.Hub
	secret []byte
	url    string
	log    *slog.Logger
	mu     sync.Mutex
	agents map[string]context.CancelFunc
	// lostAfter is WorkloadLostAfter unless the configuration says.
	lostAfter time.Duration
}

// AgentConnectTimeout bounds how long Create waits for a workload's
// agent to reach the relay.
const AgentConnectTimeout = 10 * time.Second

func (r *relayed) Create(ctx context.Context, s providers.Spec) error {
	if err := r.Provider.Create(ctx, s); err != nil {
		return err
	}
	actx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	var once sync.Once
	a := &wsclient.Agent{
		RelayURL: r.url, Container: s.ID, Token: ticket.AgentToken(r.secret, s.ID), Logger: r.log,
		Serve:     r.serve,
		OnConnect: func() { once.Do(func() { close(connected) }) },
	}
	go func() {
		if err := a.Run(actx); err != nil && !errors.Is(err, context.Canceled) {
			r.log.Error("in-process agent stopped", "container", s.ID, "err", err)
		}
	}()
	r.mu.Lock()
	if old, ok := r.agents[s.ID]; ok {
		old()
	}
	r.agents[s.ID] = cancel
	r.mu.Unlock()
	var err error
	select {
	case <-connected:
		return nil
	case <-time.After(AgentConnectTimeout):
		err = fmt.Errorf("the agent of %s did not reach the relay at %s within %s", s.ID, r.url, AgentConnectTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	// A create that failed leaves nothing: no agent that connects later,
	// no workload, no root.
	if rerr := r.Remove(context.WithoutCancel(ctx), s.ID); rerr != nil {
		r.log.Warn("failed create: removing the workload failed", "container", s.ID, "err", rerr)
	}
	return err
}

// serve hands a relay session to the workload registered in the hub: the
// grant was verified by the relay, so it is re-signed for the hub.
func (r *relayed) serve(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
	defer conn.Close()
	g.Expires = time.Now().Add(time.Minute).Unix()
	tok, err := ticket.Sign(r.secret, g)
	if err != nil {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	local, err := r.hub.Dial(dctx, "", tok)
	cancel()
	if err != nil {
		r.log.Warn("in-process agent cannot serve session", "container", g.Container, "err", err)
		return
	}
	defer local.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(local, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, local); done <- struct{}{} }()
	<-done // the workload side ended (or the client went away)
}

func (r *relayed) Remove(ctx context.Context, id string) error {
	err := r.Provider.Remove(ctx, id)
	r.mu.Lock()
	if cancel, ok := r.agents[id]; ok {
		cancel()
		delete(r.agents, id)
	}
	r.mu.Unlock()
	return err
}

// WorkloadLostAfter is how long a workload's agent must have been away
// from the relay before the sweep takes the workload for gone: an agent
// reconnects (with backoff) after a network blip, and a relay that just
// started has not seen agents that are on their way back.
const WorkloadLostAfter = 30 * time.Second

// Exists implements providers.Inspector for relayed workloads, whichever
// functions instance holds them: a workload exists while its agent is
// connected to the relay, and for WorkloadLostAfter after it left. When
// the relay cannot say, it answers the error and the sweep leaves the
// container alone.
func (r *relayed) Exists(ctx context.Context, id string) (bool, error) {
	p, err := wsclient.AgentPresence(ctx, nil, r.url, id, ticket.AgentToken(r.secret, id))
	if err != nil {
		return true, err
	}
	return p.Connected || p.GoneFor < r.lostAfter, nil
}

// ExitOf implements providers.ExitInspector so that the wrapped
// provider's is not found (see Relayed): the relay keeps no exits.
func (r *relayed) ExitOf(context.Context, string) (providers.Exit, bool, error) {
	return providers.Exit{}, false, nil
}

// Unwrap implements providers.Unwrapper: the wrapped provider's optional
// abilities are its own.
func (r *relayed) Unwrap() providers.Provider { return r.Provider }
