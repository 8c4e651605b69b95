// Package containers serves the Docker API's container routes
// (/containers/...): create, inspect, list, the lifecycle (start, stop,
// kill, restart, pause, wait, remove), logs, stats, top, attach, archive,
// changes, export, update and commit, and the shim's carry and tunnel tickets of
// a container. Handlers are named for their route, as moby's are
// (postContainersStart serves POST /containers/{id}/start).
package containers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/statestore"
)

// Store is what the containers routes use of the records store (*records.Store).
type Store interface {
	Container(ctx context.Context, ref string) (*records.Container, error)
	ContainerByID(ctx context.Context, id string) (*records.Container, error)
	ContainerByName(ctx context.Context, name string) (*records.Container, error)
	Containers(ctx context.Context) ([]*records.Container, error)
	CreateContainer(ctx context.Context, c *records.Container, evs ...statestore.Event) error
	DeleteContainer(ctx context.Context, id string, version int64, evs ...statestore.Event) error
	Events(ctx context.Context, after string, since, until time.Time) ([]records.EventEntry, error)
	ExecsOf(ctx context.Context, containerID string) ([]*records.Exec, error)
	Image(ctx context.Context, ref string) (*records.Image, error)
	Now() time.Time
	PutImage(ctx context.Context, img *records.Image) error
	SetTag(ctx context.Context, ref string, img *records.Image) error
	UpdateContainer(ctx context.Context, id string, fn func(*records.Container) error) (*records.Container, error)
	UpdateContainerFrom(ctx context.Context, id string, fn func(*records.Container) error, ch records.Change[records.Container]) (*records.Container, error)
}

// Provider is what the containers routes use of the provider; optional abilities are found with providers.As.
type Provider interface {
	Create(ctx context.Context, s providers.Spec) error
	Kill(ctx context.Context, id string, signal int) error
	Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error)
	Name() string
	Remove(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, timeout time.Duration) error
}

// Backend is what the containers routes use of the shared operations (*core.Backend).
type Backend interface {
	ConnectEvents(c *records.Container, nets []*records.Network) []statestore.Event
	Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string)
	FinishStop(ctx context.Context, c *records.Container)
	IssueTicket(w http.ResponseWriter, g ticket.Grant, tty bool, id string) error
	LayerStore() *layerstore.Store
	LongPoll(w http.ResponseWriter, r *http.Request, spec core.LongPollSpec) error
	MarkManualStop(ctx context.Context, id string) *records.Container
	NewEvent(typ events.Type, action events.Action, id string, attrs map[string]string) []statestore.Event
	PlanNetworks(ctx context.Context, c *records.Container, nc *network.NetworkingConfig) ([]*records.Network, error)
	PollWindow(r *http.Request) time.Duration
	ReconcileWorkload(ctx context.Context, c *records.Container) (*records.Container, error)
	ReleaseNetworks(ctx context.Context, c *records.Container)
	RemoveAnonymousVolumes(ctx context.Context, c *records.Container)
	RemoveContainer(ctx context.Context, c *records.Container, kill bool) error
	RemoveCreatedVolumes(ctx context.Context, names []string)
	Spec(c *records.Container) providers.Spec
	StartContainer(ctx context.Context, c *records.Container) error
	StopContainer(ctx context.Context, c *records.Container, timeout time.Duration) error
	VolumesFor(ctx context.Context, c *records.Container) ([]string, error)
}

// Router serves the container routes.
type Router struct {
	st       Store
	provider Provider
	b        Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the container router over st, p and b.
func NewRouter(st Store, p Provider, b Backend, cfg core.Config, log *slog.Logger) *Router {
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
	h("POST", "/commit", a.postCommit)
}
