// Package agents serves the routes the agent in each workload calls
// (under AgentPathPrefix): its exit and health reports, its peers for
// container-to-container networking and the ports it listens on. They
// authenticate with the container's own agent token, not the shim's
// credentials, and act only on that container.
package agents

import (
	"log/slog"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the agent routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the agent router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the agent routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", AgentPathPrefix+"{id}/exit", a.postAgentExit)
	h("POST", AgentPathPrefix+"{id}/health", a.postAgentHealth)
	h("POST", AgentPathPrefix+"{id}/peer", a.postAgentPeer)
	h("GET", AgentPathPrefix+"{id}/peers", a.getAgentPeers)
	h("POST", AgentPathPrefix+"{id}/ports", a.postAgentPorts)
}
