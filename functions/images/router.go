// Package images serves the Docker API's image routes (/images/...):
// pull and import, load, list, inspect, history, tag, remove and prune.
// Builds are package build's.
package images

import (
	"log/slog"
	"net/http"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the image routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the image router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the image routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/images/create", a.postImagesCreate)
	h("GET", "/images/json", a.getImagesJSON)
	h("POST", "/images/load", a.postImagesLoad)
	h("POST", "/images/prune", a.postImagesPrune)
	h("GET", "/images/get", notImplemented("image save"))
	h("GET", "/images/search", notImplemented("image search"))
	h("GET", "/images/{name:.*}/json", a.getImagesByName)
	h("GET", "/images/{name:.*}/history", a.getImagesHistory)
	h("GET", "/images/{name:.*}/get", notImplemented("image save"))
	h("POST", "/images/{name:.*}/tag", a.postImagesTag)
	h("POST", "/images/{name:.*}/push", notImplemented("image push"))
	h("DELETE", "/images/{name:.*}", a.deleteImages)
	h("GET", "/distribution/{name:.*}/json", notImplemented("registry distribution inspect"))
}

func notImplemented(what string) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return errdefs.NotImplementedf("%s is not supported by sockerless", what)
	}
}
