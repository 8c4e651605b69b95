package functions

import (
	"context"
	"time"

	"github.com/sockerless/sockerless/functions/agents"
	"github.com/sockerless/sockerless/functions/containers"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/system"
	"github.com/sockerless/sockerless/providers"
)

// The names below are the families' and the shared core's, kept here so
// callers of package functions need import nothing else.

// Registry is how the API reaches image registries (Config.Registry).
type Registry = core.Registry

// ErrRegistryUnreachable marks a registry that could not be reached, so a
// pull falls back to a local image or a placeholder.
var ErrRegistryUnreachable = core.ErrRegistryUnreachable

// MaxBlobBody bounds a request body carried through the relay's blob
// store (docker load, a build context): 8 GiB.
const MaxBlobBody = core.MaxBlobBody

// MaxAnswerBytes bounds the body of one bounded answer of a long wait.
const MaxAnswerBytes = core.MaxAnswerBytes

// MaxArchiveUpload bounds a docker cp upload (1 GiB).
const MaxArchiveUpload = containers.MaxArchiveUpload

// PortsLabel is the label that records a container's published ports.
const PortsLabel = core.PortsLabel

// CarryPath is the route a shim asks for a carry ticket on.
const CarryPath = containers.CarryPath

// TunnelPath is the route a shim asks for a tunnel ticket on.
const TunnelPath = containers.TunnelPath

// SweepPath is the reconcile endpoint a scheduler calls.
const SweepPath = system.SweepPath

// MaxSweepActions bounds the work of one sweep.
const MaxSweepActions = core.MaxSweepActions

// SweepReport is what one sweep did.
type SweepReport = core.SweepReport

// AgentReport is the body of an agent's exit report.
type AgentReport = agents.AgentReport

// PeerList is what an agent is told of its peers.
type PeerList = agents.PeerList

// Peer is one peer of a container.
type Peer = agents.Peer

// PortsReport is an agent's report of the ports it listens on.
type PortsReport = agents.PortsReport

// Sweep reconciles the store with the world (see SweepPath): restarts due
// by policy are made and containers whose workload vanished without an
// exit report are recorded as exited. It is idempotent and bounded by
// MaxSweepActions.
func (a *API) Sweep(ctx context.Context) (SweepReport, error) { return a.b.Sweep(ctx) }

// Exited records that container id's main process ended with code.
func (a *API) Exited(ctx context.Context, id string, code int, at time.Time) error {
	return a.b.Exited(ctx, id, code, at)
}

// ExecExited records that exec id ended with code.
func (a *API) ExecExited(ctx context.Context, id string, code int, at time.Time) error {
	return a.b.ExecExited(ctx, id, code, at)
}

// OOMKilled records that container id's processes were killed for
// passing its memory limit.
func (a *API) OOMKilled(ctx context.Context, id string, at time.Time) error {
	return a.b.OOMKilled(ctx, id, at)
}

// Health records one health-check result of container id.
func (a *API) Health(ctx context.Context, id string, res providers.HealthResult) error {
	return a.b.Health(ctx, id, res)
}
