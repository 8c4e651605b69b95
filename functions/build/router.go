// Package build serves POST /build with the classic builder (package
// build at the repository root runs the Dockerfile); BuildKit's routes
// answer 501.
package build

import (
	"log/slog"
	"net/http"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the build routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the build router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the build routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/build", a.postBuild)
	h("POST", "/build/prune", notImplemented("build cache prune"))
	h("POST", "/session", notImplemented("BuildKit sessions"))
	h("POST", "/grpc", notImplemented("BuildKit"))
}

func notImplemented(what string) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return errdefs.NotImplementedf("%s is not supported by sockerless", what)
	}
}
