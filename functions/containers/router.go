// Package containers serves the Docker API's container routes
// (/containers/...): create, inspect, list, the lifecycle (start, stop,
// kill, restart, pause, wait, remove), logs, stats, top, attach, archive,
// changes, export and update, and the shim's carry and tunnel tickets of
// a container. Handlers are named for their route, as moby's are
// (postContainersStart serves POST /containers/{id}/start).
package containers

import (
	"log/slog"
	"net/http"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// Router serves the container routes.
type Router struct {
	st       *records.Store
	provider providers.Provider
	b        *core.Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the container router over st, p and b.
func NewRouter(st *records.Store, p providers.Provider, b *core.Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, provider: p, b: b, cfg: cfg, log: log}
}

// Routes registers the container routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", "/containers/create", a.postContainersCreate)
	h("GET", "/containers/json", a.getContainersJSON)
	h("POST", "/containers/prune", a.postContainersPrune)
	h("GET", "/containers/{id}/json", a.getContainersByName)
	h("POST", "/containers/{id}/start", a.postContainersStart)
	h("POST", "/containers/{id}/stop", a.postContainersStop)
	h("POST", "/containers/{id}/kill", a.postContainersKill)
	h("POST", "/containers/{id}/restart", a.postContainersRestart)
	h("POST", "/containers/{id}/rename", a.postContainerRename)
	h("POST", "/containers/{id}/pause", a.postContainersPause)
	h("POST", "/containers/{id}/unpause", a.postContainersUnpause)
	h("POST", "/containers/{id}/wait", a.postContainersWait)
	h("DELETE", "/containers/{id}", a.deleteContainers)
	h("GET", "/containers/{id}/top", a.getContainersTop)
	h("GET", "/containers/{id}/stats", a.getContainersStats)
	h("GET", "/containers/{id}/logs", a.getContainersLogs)
	h("POST", "/containers/{id}/attach", a.postContainersAttach)
	h("POST", "/containers/{id}/resize", a.postContainersResize)
	h("GET", "/containers/{id}/archive", a.getContainersArchive)
	h("HEAD", "/containers/{id}/archive", a.headContainersArchive)
	h("PUT", "/containers/{id}/archive", a.putContainersArchive)
	h("POST", CarryPath, a.postCarry)
	h("POST", TunnelPath, a.postTunnel)
	h("POST", "/containers/{id}/update", a.postContainerUpdate)
	h("GET", "/containers/{id}/changes", a.getContainersChanges)
	h("GET", "/containers/{id}/export", a.getContainersExport)
	h("POST", "/commit", postCommit)
}

func postCommit(w http.ResponseWriter, r *http.Request) error {
	return errdefs.NotImplementedf("commit is not supported by sockerless")
}
