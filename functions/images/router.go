// Package images serves the Docker API's image routes (/images/...):
// pull and import, load, list, inspect, history, tag, remove and prune.
// Builds are package build's.
package images

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/layerstore"
)

// Store is what the images routes use of the records store (*records.Store).
type Store interface {
	Containers(ctx context.Context) ([]*records.Container, error)
	DeleteImage(ctx context.Context, id string) error
	Image(ctx context.Context, ref string) (*records.Image, error)
	Images(ctx context.Context) ([]*records.Image, error)
	Now() time.Time
	PutImage(ctx context.Context, img *records.Image) error
	RemoveTag(ctx context.Context, ref string) error
	SetTag(ctx context.Context, ref string, img *records.Image) error
	Tags(ctx context.Context) ([]*records.Tag, error)
	TagsOf(ctx context.Context, imageID string) ([]string, error)
}

// Provider is what the images routes use of the provider; optional abilities are found with providers.As.
type Provider interface {
	Name() string
}

// Backend is what the images routes use of the shared operations (*core.Backend).
type Backend interface {
	Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string)
	LayerStore() *layerstore.Store
	RequestBody(w http.ResponseWriter, r *http.Request, purpose string) (body io.ReadCloser, answered bool, err error)
	StoreLayers(layers []v1.Layer) error
}

// Router serves the image routes.
type Router struct {
	st       Store
	provider Provider
	b        Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the image router over st, p and b.
func NewRouter(st Store, p Provider, b Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the image routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/images/create", a.postImagesCreate)
	h("GET", "/images/json", a.getImagesJSON)
	h("POST", "/images/load", a.postImagesLoad)
	h("POST", "/images/prune", a.postImagesPrune)
	h("GET", "/images/get", a.getImagesGet)
	h("GET", "/images/search", httpx.NotImplemented("image search"))
	h("GET", "/images/{name:.*}/json", a.getImagesByName)
	h("GET", "/images/{name:.*}/history", a.getImagesHistory)
	h("GET", "/images/{name:.*}/get", a.getImagesGet)
	h("POST", "/images/{name:.*}/tag", a.postImagesTag)
	h("POST", "/images/{name:.*}/push", httpx.NotImplemented("image push"))
	h("DELETE", "/images/{name:.*}", a.deleteImages)
	h("GET", "/distribution/{name:.*}/json", httpx.NotImplemented("registry distribution inspect"))
}
