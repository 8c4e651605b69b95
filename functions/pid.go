package functions

import (
	"context"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
)

// mainPID is a running container's State.Pid as its provider knows it
// (providers.PIDReporter); 0 when the provider does not say.
func (a *API) mainPID(ctx context.Context, c *records.Container) int {
	p, ok := a.provider.(providers.PIDReporter)
	if !ok || !c.State.Running {
		return 0
	}
	pid, _ := p.MainPID(ctx, c.ID)
	return pid
}

// execPID is a running exec's Pid as the provider knows it; 0 otherwise.
func (a *API) execPID(ctx context.Context, e *records.Exec) int {
	p, ok := a.provider.(providers.PIDReporter)
	if !ok || !e.Running {
		return 0
	}
	pid, _ := p.ExecPID(ctx, e.ContainerID, e.ID)
	return pid
}
