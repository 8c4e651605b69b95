// Package system serves the Docker API's system routes: ping, version,
// info, auth, events and disk usage; the periodic sweep a scheduler calls
// (SweepPath); and the 501 answers of what sockerless does not offer
// (plugins, swarm and its objects).
package system

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// ContainerViews is what disk usage needs of the container router.
type ContainerViews interface {
	Summary(c *records.Container, size bool) container.Summary
}

// ImageViews is what disk usage needs of the image router.
type ImageViews interface {
	Summaries(ctx context.Context, f httpx.Filters, all bool) ([]image.Summary, error)
}

// VolumeViews is what disk usage needs of the volume router.
type VolumeViews interface {
	Views(ctx context.Context, cs []*records.Container) ([]volume.Volume, error)
}

// Views are the other families' views system df reports.
type Views struct {
	Containers ContainerViews
	Images     ImageViews
	Volumes    VolumeViews
}

// Store is what the system routes use of the records store (*records.Store).
type Store interface {
	Containers(ctx context.Context) ([]*records.Container, error)
	Events(ctx context.Context, after string, since, until time.Time) ([]records.EventEntry, error)
	Images(ctx context.Context) ([]*records.Image, error)
	Now() time.Time
}

// Provider is what the system routes use of the provider; optional abilities are found with providers.As.
type Provider interface {
	Name() string
}

// Backend is what the system routes use of the shared operations (*core.Backend).
type Backend interface {
	LongPoll(w http.ResponseWriter, r *http.Request, spec core.LongPollSpec) error
	Sweep(ctx context.Context) (core.SweepReport, error)
}

// Router serves the system routes.
type Router struct {
	st       Store
	provider Provider
	b        Backend
	cfg      core.Config
	log      *slog.Logger
	views    Views
}

// NewRouter returns the system router over st, p and b; views gives
// system df the other families' summaries.
func NewRouter(st Store, p Provider, b Backend, cfg core.Config, log *slog.Logger, views Views) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log, views: views}
}

// Routes registers the system routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("GET", "/_ping", a.getPing)
	h("POST", "/_ping", a.getPing)
	h("GET", "/version", a.getVersion)
	h("GET", "/info", a.getInfo)
	h("POST", "/auth", a.postAuth)
	h("GET", "/events", a.getEvents)
	h("GET", "/system/df", a.getSystemDF)
	h("POST", SweepPath, a.postSweep)

	// Plugins: none installed, none installable.
	h("GET", "/plugins", getPlugins)
	h("GET", "/plugins/privileges", httpx.NotImplemented("plugins"))
	h("POST", "/plugins/pull", httpx.NotImplemented("plugin install"))
	h("GET", "/plugins/{name:.*}/json", getPluginsByName)

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
}

func getPlugins(w http.ResponseWriter, r *http.Request) error {
	return httpx.WriteJSON(w, http.StatusOK, []any{})
}

func getPluginsByName(w http.ResponseWriter, r *http.Request) error {
	return errdefs.NotFoundf("plugin %q not found", r.PathValue("name"))
}

func notSwarm(w http.ResponseWriter, r *http.Request) error {
	return errdefs.NotImplementedf("swarm mode is not supported by sockerless: this node is not a swarm manager and cannot become one")
}
