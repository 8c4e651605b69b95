// Package agents serves the routes the agent in each workload calls
// (under AgentPathPrefix): its exit and health reports, its peers for
// container-to-container networking (with a direct connection offered
// where the peer's agent takes them), the ports it listens on and where
// it takes direct connections. They
// authenticate with the container's own agent token, not the shim's
// credentials, and act only on that container.
package agents

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Store is what the agents routes use of the records store (*records.Store).
type Store interface {
	Container(ctx context.Context, ref string) (*records.Container, error)
	Containers(ctx context.Context) ([]*records.Container, error)
	Exec(ctx context.Context, id string) (*records.Exec, error)
	Now() time.Time
	UpdateContainer(ctx context.Context, id string, fn func(*records.Container) error) (*records.Container, error)
}

// Backend is what the agents routes use of the shared operations (*core.Backend).
type Backend interface {
	ExecExited(ctx context.Context, id string, code int, at time.Time) error
	Exited(ctx context.Context, id string, code int, at time.Time) error
	Health(ctx context.Context, id string, res providers.HealthResult) error
	IssueTicket(w http.ResponseWriter, g ticket.Grant, tty bool, id string) error
	Ticket(g ticket.Grant, tty bool, id string) (controlapi.StreamTicket, error)
	OOMKilled(ctx context.Context, id string, at time.Time) error
}

// Router serves the agent routes.
type Router struct {
	st  Store
	b   Backend
	cfg core.Config
	log *slog.Logger
}

// NewRouter returns the agent router over st and b.
func NewRouter(st Store, b Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, b: b, cfg: cfg, log: log}
}

// Routes registers the agent routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("POST", AgentPathPrefix+"{id}/exit", a.postAgentExit)
	h("POST", AgentPathPrefix+"{id}/health", a.postAgentHealth)
	h("POST", AgentPathPrefix+"{id}/peer", a.postAgentPeer)
	h("GET", AgentPathPrefix+"{id}/peers", a.getAgentPeers)
	h("POST", AgentPathPrefix+"{id}/ports", a.postAgentPorts)
	h("POST", AgentPathPrefix+"{id}/direct", a.postAgentDirect)
}
