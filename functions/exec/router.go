// Package exec serves the Docker API's exec routes: creating an exec in a
// container (POST /containers/{id}/exec), starting it (a stream ticket for
// the shim, or a detached hand-over to the container's agent), inspecting
// and resizing it, and the shim's report of an exec it could not start.
package exec

import (
	"log/slog"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the exec routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the exec router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the exec routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/containers/{id}/exec", a.postContainerExecCreate)
	h("POST", "/exec/{id}/start", a.postContainerExecStart)
	h("GET", "/exec/{id}/json", a.getExecByID)
	h("POST", "/exec/{id}/resize", a.postContainerExecResize)
	h("POST", controlapi.PathExecUnstarted, a.postExecUnstarted)
}
