// Package build serves POST /build with the classic builder (package
// build at the repository root runs the Dockerfile); BuildKit's routes
// answer 501.
package build

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

// Store is what the build routes use of the records store (*records.Store).
type Store interface {
	Image(ctx context.Context, ref string) (*records.Image, error)
	Now() time.Time
	PutImage(ctx context.Context, img *records.Image) error
	SetTag(ctx context.Context, ref string, img *records.Image) error
}

// Provider is what the build routes use of the provider; optional abilities are found with providers.As.
type Provider interface {
	Name() string
}

// Backend is what the build routes use of the shared operations (*core.Backend).
type Backend interface {
	Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string)
	LayerStore() *layerstore.Store
	RequestBody(w http.ResponseWriter, r *http.Request, purpose string) (body io.ReadCloser, answered bool, err error)
	StoreLayers(layers []v1.Layer) error
}

// Router serves the build routes.
type Router struct {
	st       Store
	provider Provider
	b        Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the build router over st, p and b.
func NewRouter(st Store, p Provider, b Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the build routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/build", a.postBuild)
	h("POST", "/build/prune", httpx.NotImplemented("build cache prune"))
	h("POST", "/session", httpx.NotImplemented("BuildKit sessions"))
	h("POST", "/grpc", httpx.NotImplemented("BuildKit"))
}
