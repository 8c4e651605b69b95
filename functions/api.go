// Package functions is the Docker Engine API as stateless HTTP handlers:
// everything a handler knows about containers, images, networks and
// volumes it reads from the state store (package records), and workloads
// are driven through a providers.Provider. No handler keeps per-object
// memory between requests, so any number of function instances can serve
// one deployment.
//
// Hijacked streams and long waits follow the shim contract in
// internal/controlapi: a shim asks for a stream ticket instead of an
// upgrade, and long waits are answered in bounded polls.
//
// The routes live in one package per resource family, named as the
// paths are: containers, exec, images, build, networks, volumes, system,
// and agents for what a workload's agent calls; what several families do
// is in internal/core. This package authenticates, versions and routes
// requests to them (docs/functions.md).
package functions

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sockerless/sockerless/functions/agents"
	"github.com/sockerless/sockerless/functions/build"
	"github.com/sockerless/sockerless/functions/containers"
	"github.com/sockerless/sockerless/functions/exec"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/images"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/networks"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/functions/system"
	"github.com/sockerless/sockerless/functions/volumes"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore"
)

// Config configures the API. Store and NewProvider are required.
type Config struct {
	// Store holds every record.
	Store statestore.Store
	// NewProvider builds the provider; it is given the API as the Reporter
	// its workloads report exits and health to.
	NewProvider func(providers.Reporter) (providers.Provider, error)
	// Secret signs stream tickets and derives agent tokens.
	Secret []byte
	// RelayURL is put in stream tickets ("inproc:" for the embedded relay).
	RelayURL string
	// Dialer lets functions open a session itself, for detached execs.
	// Nil means detached execs answer 501.
	Dialer relay.Dialer
	// Token, when set, is the bearer token every request must carry
	// (shorthand for an Auth that checks it).
	Token string
	// Auth, when set, authenticates every request but the agents' (which
	// carry their own per-container tokens); it takes precedence over
	// Token.
	Auth Authenticator
	// PollWindow bounds how long one request may wait (default 20 s, under
	// API Gateway's 29 s limit).
	PollWindow time.Duration
	// TicketTTL is how long a stream ticket is valid (default 30 s).
	TicketTTL time.Duration
	// PullTimeout bounds registry access during a pull (default 60 s).
	PullTimeout time.Duration
	// Registry, when set, overrides how images are fetched (tests).
	Registry Registry
	// HostBinds allows binds of host paths. Only where functions runs on
	// the client's own host (the embedded default) does a host path mean
	// what the client means; in split and cloud modes it would name a
	// folder of the control plane's host, so binds are refused there.
	HostBinds bool
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// Version is reported by /version.
	Version string
	// AnswerPollsAtOnce answers every bounded poll of a long wait after
	// one step, so no request is held waiting: each platform bills the
	// time a request is held, and a Lambda instance serves one invocation
	// at a time. The shim waits between polls instead (on notices and its
	// back-off). Without it, a store with change notification
	// (statestore.Watcher) lets a poll wait inside its window for free,
	// as in embedded mode.
	AnswerPollsAtOnce bool
	// Notifier, when set, is told when a container exits or is removed,
	// and long waits hand shims watch tickets for it (the relay's
	// notices), so they wake on the change instead of polling.
	Notifier relay.Notifier
	// Wake, when set, is told when a record asks for work at a later time
	// (a restart by policy), so a process that runs a timer (embedded
	// mode) calls Sweep then. Deployments leave it nil: their scheduler
	// calls SweepPath. It must not block.
	Wake func(at time.Time)
}

// Authenticator decides whether a request may use the API; its error
// (401) is answered to the client.
type Authenticator interface {
	Verify(r *http.Request) error
}

// API serves the Docker Engine API. It is an http.Handler and the
// providers.Reporter of its provider (through a retrying wrapper).
type API struct {
	cfg Config
	b   *core.Backend
	// st and provider are b's, for the package's tests.
	st       *records.Store
	provider providers.Provider
	log      *slog.Logger
	handler  http.Handler
}

// Close ends the retries of in-process providers' reports. The API
// itself holds nothing else.
func (a *API) Close() { a.b.Close() }

// New builds the API and makes sure the predefined networks exist.
func New(ctx context.Context, cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.NewProvider == nil {
		return nil, errors.New("functions: Store and NewProvider are required")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("functions: Secret is required")
	}
	if cfg.PollWindow <= 0 {
		cfg.PollWindow = 20 * time.Second
	}
	if cfg.TicketTTL <= 0 {
		cfg.TicketTTL = 30 * time.Second
	}
	if cfg.PullTimeout <= 0 {
		cfg.PullTimeout = 60 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = core.RemoteRegistry{}
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cc := core.Config{
		Secret: cfg.Secret, RelayURL: cfg.RelayURL, Dialer: cfg.Dialer,
		PollWindow: cfg.PollWindow, TicketTTL: cfg.TicketTTL, PullTimeout: cfg.PullTimeout,
		Registry: cfg.Registry, HostBinds: cfg.HostBinds, Version: cfg.Version,
		AnswerPollsAtOnce: cfg.AnswerPollsAtOnce, Notifier: cfg.Notifier, Wake: cfg.Wake,
	}
	st := records.New(cfg.Store)
	b, err := core.New(cc, st, log, cfg.NewProvider)
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, b: b, log: log, st: st, provider: b.Provider()}
	if err := b.EnsureDefaultNetworks(ctx); err != nil {
		return nil, fmt.Errorf("functions: default networks: %w", err)
	}
	rt := &httpx.Router{OnError: func(r *http.Request, err error) {
		id := r.Header.Get(controlapi.HeaderRequestID)
		if errdefs.HTTPStatus(err) >= 500 {
			a.log.Error("request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			a.log.Debug("request refused", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}}
	p := b.Provider()
	ctr := containers.NewRouter(st, p, b, cc, log)
	img := images.NewRouter(st, p, b, cc, log)
	vol := volumes.NewRouter(st, b, cc, log)
	for _, r := range []interface{ Routes(*httpx.Router) }{
		system.NewRouter(st, p, b, cc, log, system.Views{Containers: ctr, Images: img, Volumes: vol}),
		ctr,
		exec.NewRouter(st, p, b, cc, log),
		img,
		build.NewRouter(st, p, b, cc, log),
		networks.NewRouter(st, b, cc, log),
		vol,
		agents.NewRouter(st, b, cc, log),
	} {
		r.Routes(rt)
	}
	a.handler = a.requestID(httpx.WithVersion(a.authenticate(rt)))
	return a, nil
}

// Provider returns the provider the API drives.
func (a *API) Provider() providers.Provider { return a.b.Provider() }

// ServeHTTP serves one Docker API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// requestID makes sure every request has an id (the shim's, or a new
// one), answers it in X-Request-Id and logs the request with it.
func (a *API) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(controlapi.HeaderRequestID)
		if id == "" || len(id) > 128 {
			id = core.NewID()[:32]
			r.Header.Set(controlapi.HeaderRequestID, id)
		}
		w.Header().Set(controlapi.HeaderRequestID, id)
		a.log.Debug("request", "request_id", id, "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

func (a *API) authenticate(next http.Handler) http.Handler {
	auth := a.cfg.Auth
	if auth == nil && a.cfg.Token != "" {
		want := []byte("Bearer " + a.cfg.Token)
		auth = verifierFunc(func(r *http.Request) error {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				return errdefs.Unauthorized(errors.New("sockerless: missing or invalid bearer token"))
			}
			return nil
		})
	}
	if auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Agents authenticate with their own per-container token.
		if strings.HasPrefix(r.URL.Path, agents.AgentPathPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		if err := auth.Verify(r); err != nil {
			a.log.Warn("request refused: not authenticated", "request_id", r.Header.Get(controlapi.HeaderRequestID),
				"method", r.Method, "path", r.URL.Path, "reason", err.Error())
			if errdefs.HTTPStatus(err) != http.StatusUnauthorized {
				err = errdefs.Unauthorized(err)
			}
			httpx.WriteError(w, err, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type verifierFunc func(r *http.Request) error

func (f verifierFunc) Verify(r *http.Request) error { return f(r) }
