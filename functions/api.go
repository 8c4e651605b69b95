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
package functions

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
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
	cfg      Config
	st       *records.Store
	provider providers.Provider
	log      *slog.Logger
	handler  http.Handler
	// closed ends in-process providers' report retries (see reporter).
	closed    chan struct{}
	closeOnce sync.Once
}

// Close ends the retries of in-process providers' reports. The API
// itself holds nothing else.
func (a *API) Close() {
	a.closeOnce.Do(func() { close(a.closed) })
}

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
		cfg.Registry = remoteRegistry{}
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	a := &API{cfg: cfg, st: records.New(cfg.Store), log: cfg.Logger, closed: make(chan struct{})}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	p, err := cfg.NewProvider(reporter{a})
	if err != nil {
		return nil, fmt.Errorf("functions: provider: %w", err)
	}
	a.provider = p
	if err := a.ensureDefaultNetworks(ctx); err != nil {
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
	a.routes(rt)
	a.handler = a.requestID(httpx.WithVersion(a.authenticate(rt)))
	return a, nil
}

// Provider returns the provider the API drives.
func (a *API) Provider() providers.Provider { return a.provider }

// ServeHTTP serves one Docker API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// requestID makes sure every request has an id (the shim's, or a new
// one), answers it in X-Request-Id and logs the request with it.
func (a *API) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(controlapi.HeaderRequestID)
		if id == "" || len(id) > 128 {
			id = newID()[:32]
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
		if strings.HasPrefix(r.URL.Path, agentPathPrefix) {
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

func (a *API) routes(rt *httpx.Router) {
	h := rt.Handle
	// System.
	h("GET", "/_ping", a.ping)
	h("POST", "/_ping", a.ping)
	h("GET", "/version", a.version)
	h("GET", "/info", a.info)
	h("POST", "/auth", a.auth)
	h("GET", "/events", a.events)
	h("GET", "/system/df", a.systemDF)

	// Containers.
	h("POST", "/containers/create", a.containerCreate)
	h("GET", "/containers/json", a.containerList)
	h("POST", "/containers/prune", a.containerPrune)
	h("GET", "/containers/{id}/json", a.containerInspect)
	h("POST", "/containers/{id}/start", a.containerStart)
	h("POST", "/containers/{id}/stop", a.containerStop)
	h("POST", "/containers/{id}/kill", a.containerKill)
	h("POST", "/containers/{id}/restart", a.containerRestart)
	h("POST", "/containers/{id}/rename", a.containerRename)
	h("POST", "/containers/{id}/pause", a.containerPause)
	h("POST", "/containers/{id}/unpause", a.containerUnpause)
	h("POST", "/containers/{id}/wait", a.containerWait)
	h("DELETE", "/containers/{id}", a.containerRemove)
	h("GET", "/containers/{id}/top", a.containerTop)
	h("GET", "/containers/{id}/stats", a.containerStats)
	h("GET", "/containers/{id}/logs", a.containerLogs)
	h("POST", "/containers/{id}/attach", a.containerAttach)
	h("POST", "/containers/{id}/resize", a.containerResize)
	h("GET", "/containers/{id}/archive", a.archiveGet)
	h("HEAD", "/containers/{id}/archive", a.archiveHead)
	h("PUT", "/containers/{id}/archive", a.archivePut)
	h("POST", "/containers/{id}/exec", a.execCreate)
	h("POST", CarryPath, a.carryTicket)
	h("POST", TunnelPath, a.tunnelTicket)
	h("POST", "/containers/{id}/update", a.containerUpdate)
	h("GET", "/containers/{id}/changes", a.containerChanges)
	h("GET", "/containers/{id}/export", a.containerExport)
	h("POST", "/commit", a.imageCommit)

	// Exec.
	h("POST", "/exec/{id}/start", a.execStart)
	h("GET", "/exec/{id}/json", a.execInspect)
	h("POST", "/exec/{id}/resize", a.execResize)
	h("POST", controlapi.PathExecUnstarted, a.execUnstarted)

	// Images.
	h("POST", "/images/create", a.imageCreate)
	h("GET", "/images/json", a.imageList)
	h("POST", "/images/load", a.imageLoad)
	h("POST", "/images/prune", a.imagePrune)
	h("GET", "/images/get", a.imageSave)
	h("GET", "/images/search", notImplemented("image search"))
	h("POST", "/build", a.imageBuild)
	h("POST", "/build/prune", notImplemented("build cache prune"))
	h("GET", "/images/{name:.*}/json", a.imageInspect)
	h("GET", "/images/{name:.*}/history", a.imageHistory)
	h("GET", "/images/{name:.*}/get", a.imageSave)
	h("POST", "/images/{name:.*}/tag", a.imageTag)
	h("POST", "/images/{name:.*}/push", notImplemented("image push"))
	h("DELETE", "/images/{name:.*}", a.imageRemove)

	// Networks.
	h("GET", "/networks", a.networkList)
	h("POST", "/networks/create", a.networkCreate)
	h("POST", "/networks/prune", a.networkPrune)
	h("GET", "/networks/{id}", a.networkInspect)
	h("DELETE", "/networks/{id}", a.networkRemove)
	h("POST", "/networks/{id}/connect", a.networkConnect)
	h("POST", "/networks/{id}/disconnect", a.networkDisconnect)

	// Volumes.
	h("GET", "/volumes", a.volumeList)
	h("POST", "/volumes/create", a.volumeCreate)
	h("POST", "/volumes/prune", a.volumePrune)
	h("GET", "/volumes/{name}", a.volumeInspect)
	h("DELETE", "/volumes/{name}", a.volumeRemove)
	h("PUT", "/volumes/{name}", notImplemented("cluster volume update"))

	// Plugins: none installed, none installable.
	h("GET", "/plugins", func(w http.ResponseWriter, r *http.Request) error {
		return httpx.WriteJSON(w, http.StatusOK, []any{})
	})
	h("GET", "/plugins/privileges", notImplemented("plugins"))
	h("POST", "/plugins/pull", notImplemented("plugin install"))
	h("GET", "/plugins/{name:.*}/json", func(w http.ResponseWriter, r *http.Request) error {
		return errdefs.NotFoundf("plugin %q not found", r.PathValue("name"))
	})

	// Swarm and its objects.
	for _, p := range []string{"/swarm", "/swarm/init", "/swarm/join", "/swarm/leave", "/swarm/update", "/swarm/unlockkey", "/swarm/unlock",
		"/services", "/services/create", "/services/{id}", "/services/{id}/update", "/services/{id}/logs",
		"/nodes", "/nodes/{id}", "/nodes/{id}/update", "/tasks", "/tasks/{id}", "/tasks/{id}/logs",
		"/secrets", "/secrets/create", "/secrets/{id}", "/secrets/{id}/update",
		"/configs", "/configs/create", "/configs/{id}", "/configs/{id}/update"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			h(m, p, notSwarm)
		}
	}
	h("POST", "/session", notImplemented("BuildKit sessions"))
	h("POST", "/grpc", notImplemented("BuildKit"))
	h("GET", "/distribution/{name:.*}/json", notImplemented("registry distribution inspect"))

	a.agentRoutes(rt)
}

func notImplemented(what string) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return errdefs.NotImplementedf("%s is not supported by sockerless", what)
	}
}

func notSwarm(w http.ResponseWriter, r *http.Request) error {
	return errdefs.NotImplementedf("swarm mode is not supported by sockerless: this node is not a swarm manager and cannot become one")
}
