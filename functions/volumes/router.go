// Package volumes serves the Docker API's volume routes (/volumes/...):
// create, inspect, list, remove and prune.
package volumes

import (
	"log/slog"
	"net/http"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the volume routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the volume router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the volume routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("GET", "/volumes", a.getVolumesList)
	h("POST", "/volumes/create", a.postVolumesCreate)
	h("POST", "/volumes/prune", a.postVolumesPrune)
	h("GET", "/volumes/{name}", a.getVolumeByName)
	h("DELETE", "/volumes/{name}", a.deleteVolumes)
	h("PUT", "/volumes/{name}", putVolumes)
}

func putVolumes(w http.ResponseWriter, r *http.Request) error {
	return errdefs.NotImplementedf("cluster volume update is not supported by sockerless")
}
