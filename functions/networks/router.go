// Package networks serves the Docker API's network routes (/networks/...):
// create, inspect, list, remove, prune, connect and disconnect.
package networks

import (
	"log/slog"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the network routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the network router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the network routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("GET", "/networks", a.getNetworksList)
	h("POST", "/networks/create", a.postNetworkCreate)
	h("POST", "/networks/prune", a.postNetworksPrune)
	h("GET", "/networks/{id}", a.getNetwork)
	h("DELETE", "/networks/{id}", a.deleteNetwork)
	h("POST", "/networks/{id}/connect", a.postNetworkConnect)
	h("POST", "/networks/{id}/disconnect", a.postNetworkDisconnect)
}
