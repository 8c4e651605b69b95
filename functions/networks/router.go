// Package networks serves the Docker API's network routes (/networks/...):
// create, inspect, list, remove, prune, connect and disconnect.
package networks

import (
	"context"
	"log/slog"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
)

// Store is what the networks routes use of the records store (*records.Store).
type Store interface {
	Container(ctx context.Context, ref string) (*records.Container, error)
	Containers(ctx context.Context) ([]*records.Container, error)
	CreateNetwork(ctx context.Context, n *records.Network) error
	DeleteNetwork(ctx context.Context, id string) error
	Network(ctx context.Context, ref string) (*records.Network, error)
	Networks(ctx context.Context) ([]*records.Network, error)
	Now() time.Time
	UpdateContainer(ctx context.Context, id string, fn func(*records.Container) error) (*records.Container, error)
}

// Backend is what the networks routes use of the shared operations (*core.Backend).
type Backend interface {
	AttachNetwork(ctx context.Context, c *records.Container, n *records.Network, ep *records.Endpoint) error
	Event(ctx context.Context, typ events.Type, action events.Action, id string, attrs map[string]string)
	ReleaseEndpoint(ctx context.Context, networkID, containerID string)
}

// Router serves the network routes.
type Router struct {
	st  Store
	b   Backend
	cfg core.Config
	log *slog.Logger
}

// NewRouter returns the network router over st and b.
func NewRouter(st Store, b Backend, cfg core.Config, log *slog.Logger) *Router {
	return &Router{st: st, b: b, cfg: cfg, log: log}
}

// Routes registers the network routes on rt.
func (a *Router) Routes(rt *httpx.Router) {
	h := rt.Handle
	h("GET", "/networks", a.getNetworksList)
	h("POST", "/networks/create", a.postNetworkCreate)
	h("POST", "/networks/prune", a.postNetworksPrune)
	h("GET", "/networks/{id}", a.getNetwork)
	h("DELETE", "/networks/{id}", a.deleteNetwork)
	h("POST", "/networks/{id}/connect", a.postNetworkConnect)
	h("POST", "/networks/{id}/disconnect", a.postNetworkDisconnect)
}
