package exec

import (
	"context"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
)

// execPID is a running exec's Pid as the provider knows it; 0 otherwise.
func (a *Router) execPID(ctx context.Context, e *records.Exec) int {
	p, ok := providers.As[providers.PIDReporter](a.provider)
	if !ok || !e.Running {
		return 0
	}
	pid, _ := p.ExecPID(ctx, e.ContainerID, e.ID)
	return pid
}
