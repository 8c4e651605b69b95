package containers

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
)

// resumedBySignal records that signalling paused container c resumed it:
// Docker resumes a paused container it stops or kills, so the signal
// reaches its processes, and logs the unpause (the providers' Stop and
// Kill resume likewise). A container not paused is left alone.
func (a *Router) resumedBySignal(ctx context.Context, c *records.Container) {
	if !c.State.Paused {
		return
	}
	_, err := a.st.UpdateContainer(ctx, c.ID, func(rc *records.Container) error {
		if !rc.State.Paused {
			return core.ErrNotModified
		}
		rc.State.Paused = false
		if rc.State.Running {
			rc.State.Status = string(container.StateRunning)
		}
		return nil
	})
	if err != nil {
		return
	}
	a.b.Event(ctx, events.ContainerEventType, events.ActionUnPause, c.ID, core.ContainerAttrs(c))
}
