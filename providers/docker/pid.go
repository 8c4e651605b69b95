package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// MainPID implements providers.PIDReporter: the engine's State.Pid of
// the container (the host PID of its first process, the agent that runs
// the main process), as Docker's own inspect shows it.
func (p *Provider) MainPID(ctx context.Context, id string) (int, bool) {
	res, err := p.opts.Client.ContainerInspect(ctx, p.name(id), client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil || !res.Container.State.Running {
		return 0, false
	}
	return res.Container.State.Pid, true
}

// ExecPID implements providers.PIDReporter: an exec's process is the
// agent's child, whose host PID the agent does not report.
func (p *Provider) ExecPID(ctx context.Context, id, execID string) (int, bool) {
	return 0, false
}
