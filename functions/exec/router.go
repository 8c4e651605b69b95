// Package exec serves the Docker API's exec routes: creating an exec in a
// container (POST /containers/{id}/exec), starting it (a stream ticket for
// the shim, or a detached hand-over to the container's agent), inspecting
// and resizing it, and the shim's report of an exec it could not start.
package exec

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Provider is the provider, of which the exec routes use only optional
// abilities (providers.UserChecker, providers.PIDReporter), found with
// providers.As.
type Provider interface {
	Name() string
}

// Store is what the exec routes use of the records store (*records.Store).
type Store interface {
	Container(ctx context.Context, ref string) (*records.Container, error)
	CreateExec(ctx context.Context, e *records.Exec) error
	Exec(ctx context.Context, id string) (*records.Exec, error)
	Now() time.Time
	UpdateContainerFrom(ctx context.Context, id string, fn func(*records.Container) error, ch records.Change[records.Container]) (*records.Container, error)
	UpdateExec(ctx context.Context, id string, fn func(*records.Exec) error) (*records.Exec, error)
}

// Backend is what the exec routes use of the shared operations (*core.Backend).
type Backend interface {
	Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string)
	ExecExited(ctx context.Context, id string, code int, at time.Time) error
	IssueTicket(w http.ResponseWriter, g ticket.Grant, tty bool, id string) error
	ReconcileWorkload(ctx context.Context, c *records.Container) (*records.Container, error)
}

// Router serves the exec routes.
type Router struct {
	st       Store
	provider Provider
	b        Backend
	cfg      core.Config
	log      *slog.Logger
}

// NewRouter returns the exec router over st, p and b.
func NewRouter(st Store, p Provider, b Backend, cfg core.Config, log *slog.Logger) *Router {
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
