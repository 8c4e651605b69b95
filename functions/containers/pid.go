package containers

import (
	"context"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
)

// mainPID is a running container's State.Pid as its provider knows it
// (providers.PIDReporter); 0 when the provider does not say.
func (a *Router) mainPID(ctx context.Context, c *records.Container) int {
	p, ok := providers.As[providers.PIDReporter](a.provider)
	if !ok || !c.State.Running {
		return 0
	}
	pid, _ := p.MainPID(ctx, c.ID)
	return pid
}
