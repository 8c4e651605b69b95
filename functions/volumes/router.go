// Package volumes serves the Docker API's volume routes (/volumes/...):
// create, inspect, list, remove and prune.
package volumes

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// Store is what the volumes routes use of the records store (*records.Store).
type Store interface {
	Containers(ctx context.Context) ([]*records.Container, error)
	Volume(ctx context.Context, name string) (*records.Volume, error)
	Volumes(ctx context.Context) ([]*records.Volume, error)
}

// Backend is what the volumes routes use of the shared operations (*core.Backend).
type Backend interface {
	CreateVolume(ctx context.Context, name, driver string, labels, opts map[string]string, anonymous bool) (bool, error)
	RemoveVolume(ctx context.Context, v *records.Volume) error
}

// Router serves the volume routes.
type Router struct {
	st  Store
	b   Backend
	cfg core.Config
	log *slog.Logger
}

// NewRouter returns the volume router over st and b.
func NewRouter(st Store, b Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, b: b, cfg: cfg, log: log}
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
