package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/statestore"
)

// ErrNotModified answers 304: the container is already in the asked
// state.
var ErrNotModified = errdefs.NotModified(errors.New("not modified"))

// StartContainer marks c running (so an exit reported while Start is in
// flight lands on this run) and starts its workload.
func (a *Backend) StartContainer(ctx context.Context, c *records.Container) error {
	return a.startContainer(ctx, c, false)
}

// startContainer is StartContainer; byPolicy marks a restart made by the
// restart policy, which a stop or removal recorded since it was decided
// cancels (as `docker stop` cancels a restarting container's restart).
func (a *Backend) startContainer(ctx context.Context, c *records.Container, byPolicy bool) error {
	if c.Removing {
		return errdefs.Conflictf("container is marked for removal and cannot be started")
	}
	c, err := a.ReconcileWorkload(ctx, c)
	if err != nil {
		return err
	}
	now := a.st.Now()
	var seq int64
	// From c: no second read of a container the handler just read. The
	// start event is written with the state change, so it always precedes
	// the die of this run in the log.
	c, err = a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
		// A policy restart needs its restart still due: a stop, kill or
		// start since the decision cleared RestartAt.
		if c.State.Running || (byPolicy && (c.ManualStop || c.Removing || c.RestartAt.IsZero())) {
			return ErrNotModified
		}
		if !byPolicy {
			// As Docker, a start by the user begins the policy's count
			// again.
			c.RestartCount = 0
		}
		c.StartSeq++
		c.ManualStop, c.RestartAt, c.ExitUnreported, c.ManualRestart = false, time.Time{}, false, false
		c.StartKey = startKey(ctx)
		// The new run's agent reports where it takes direct connections.
		c.DirectAddrs = nil
		seq = c.StartSeq
		c.State = records.State{Status: string(container.StateRunning), Running: true, StartedAt: now}
		if c.Config.Healthcheck != nil && len(c.Config.Healthcheck.Test) > 0 && c.Config.Healthcheck.Test[0] != "NONE" {
			c.State.Health = &records.Health{Status: string(container.Starting), Log: []records.HealthLog{}}
		}
		return nil
	}, records.Change[records.Container]{From: c, Events: func(c *records.Container) []statestore.Event {
		return a.NewEvent(events.ContainerEventType, events.ActionStart, c.ID, ContainerAttrs(c))
	}})
	if err != nil {
		return err
	}
	if err := a.provider.Start(ctx, a.Spec(c)); err != nil {
		msg := err.Error()
		// The start is in the log, so the failure is too: a die with
		// the code the state records.
		failed, ferr := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
			if c.StartSeq != seq || !c.State.Running {
				return ErrNotModified
			}
			c.State = records.State{Status: string(container.StateCreated), ExitCode: 128, Error: msg, FinishedAt: a.st.Now()}
			if c.ExitSeq > 0 {
				c.State.Status = string(container.StateExited)
			}
			return nil
		}, records.Change[records.Container]{From: c, Events: func(c *records.Container) []statestore.Event {
			attrs := ContainerAttrs(c)
			attrs["exitCode"] = "128"
			return a.NewEvent(events.ContainerEventType, events.ActionDie, c.ID, attrs)
		}})
		// As Docker does, an auto-remove container that cannot start is
		// removed: `docker run --rm` waits for that before it exits.
		if ferr == nil && failed.HostConfig.AutoRemove {
			_ = a.AutoRemove(context.WithoutCancel(ctx), failed)
		}
		if errdefs.IsInvalidParameter(err) {
			// The container's own settings are at fault (an unknown
			// user): Docker's message as it is.
			return err
		}
		return fmt.Errorf("provider %s: start: %w", a.provider.Name(), err)
	}
	return nil
}

// StopContainer records a manual stop of c (its restart policy then leaves
// it stopped), asks the provider to stop the workload, killing it after
// timeout, and records the stop.
func (a *Backend) StopContainer(ctx context.Context, c *records.Container, timeout time.Duration) error {
	a.MarkManualStop(ctx, c.ID)
	if err := a.provider.Stop(ctx, c.ID, timeout); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("provider %s: stop: %w", a.provider.Name(), err)
	}
	a.FinishStop(ctx, c)
	return nil
}

// FinishStop records a stop that has ended the main process.
func (a *Backend) FinishStop(ctx context.Context, c *records.Container) {
	// A provider whose exit report was lost still leaves a stopped
	// container: SIGKILL's code.
	a.MarkExitedLogged(ctx, c.ID, 137, a.st.Now(), c.StartSeq, nil)
	a.Event(ctx, events.ContainerEventType, events.ActionStop, c.ID, ContainerAttrs(c))
}

// MarkExited records the end of run seq of container id (seq 0: the
// current run). It reports false, changing nothing, when that run already
// ended or a newer run started, and an error when the store could not be
// read or written (the exit is then not recorded: the caller must retry).
// from, when not nil, is the container as the caller read it. The die
// event is written with the change, and so is the restart the policy
// asks for (RestartAt), so no process has to remember it.
func (a *Backend) MarkExited(ctx context.Context, id string, code int, at time.Time, seq int64, from *records.Container) (*records.Container, bool, error) {
	c, err := a.st.UpdateContainerFrom(ctx, id, func(c *records.Container) error {
		if !c.State.Running || (seq != 0 && c.StartSeq != seq) {
			return ErrNotModified
		}
		c.ExitSeq++
		c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
		c.State.Status = string(container.StateExited)
		c.State.ExitCode = code
		c.State.FinishedAt = at
		c.ExitUnreported = false
		if c.State.Health != nil {
			c.State.Health.Status = string(container.Unhealthy)
		}
		c.RestartAt = time.Time{}
		if delay, ok := restartDelay(c, code); ok {
			c.RestartAt = at.Add(delay)
		}
		if c.RestartAt.IsZero() {
			return nil
		}
		// As Docker, the restart is counted when it is decided, and the
		// container shows as restarting through the back-off.
		c.RestartCount++
		c.State.Restarting = true
		c.State.Status = string(container.StateRestarting)
		if a.cfg.Wake != nil {
			// Told before the write: a sweep that comes early finds
			// nothing due and reports when it will be.
			a.cfg.Wake(c.RestartAt)
		}
		return nil
	}, records.Change[records.Container]{From: from, Events: func(c *records.Container) []statestore.Event {
		attrs := ContainerAttrs(c)
		attrs["exitCode"] = strconv.Itoa(code)
		return a.NewEvent(events.ContainerEventType, events.ActionDie, id, attrs)
	}})
	if errdefs.IsNotFound(err) || errdefs.IsNotModified(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("record the exit of %s: %w", id, err)
	}
	a.Notify(ctx, id)
	return c, true, nil
}

// MarkExitedLogged is markExited for paths that end a run themselves
// (stop, kill on removal): a failed write is logged, and the sweep or the
// workload's own report records the exit later.
func (a *Backend) MarkExitedLogged(ctx context.Context, id string, code int, at time.Time, seq int64, from *records.Container) {
	if _, _, err := a.MarkExited(ctx, id, code, at, seq, from); err != nil {
		a.log.Warn("exit not recorded", "container", id, "err", err)
	}
}

// MarkManualStop records that container id was stopped by the user, so
// its restart policy does not restart it. It returns the container as
// written (nil when that failed): a caller that read it stopped learns
// whether a restart started it in between, and must then stop that run.
func (a *Backend) MarkManualStop(ctx context.Context, id string) *records.Container {
	c, err := a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
		c.ManualStop, c.RestartAt = true, time.Time{}
		if c.State.Restarting {
			// A restart that was due is cancelled: the container stays
			// exited with its last code, as Docker's stop of a
			// restarting container leaves it.
			c.State.Restarting = false
			c.State.Status = string(container.StateExited)
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return c
}

// Exited implements providers.Reporter: the main process of container id
// ended. A container with AutoRemove is removed; one whose restart policy
// asks for it gets its restart recorded (RestartAt), which the sweep or
// the next request carries out.
//
// # Errors
//
// Nil only when the store holds the exit (or has nothing to hold it for:
// the container is gone, or the report is for an earlier run); any error
// means the exit is not recorded and the report must be repeated.
// Repeating a report that was recorded changes nothing.
func (a *Backend) Exited(ctx context.Context, id string, code int, at time.Time) error {
	from, err := a.st.ContainerByID(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read container %s for its exit report: %w", id, err)
	}
	if !at.IsZero() && at.Before(from.State.StartedAt) {
		// The report of an earlier run (a repeat that arrived late).
		return nil
	}
	if !from.State.Running {
		return a.lateExit(ctx, from, code)
	}
	// An auto-remove container that ends is deleted in one write with its
	// die and destroy events; only if that cannot be done is its exit
	// recorded first and the removal done the general way.
	if from.AutoRemoves() && !from.Removing && a.ExitAndRemove(ctx, from, code) {
		return nil
	}
	c, changed, err := a.MarkExited(ctx, id, code, at, 0, from)
	if err != nil {
		return err
	}
	if changed && c.AutoRemoves() {
		return a.RemoveContainer(ctx, c, false)
	}
	if !changed {
		// It ended in between (another report, a stop): finish what that
		// left undone.
		if c, err := a.st.ContainerByID(ctx, id); err == nil && !c.State.Running {
			return a.lateExit(ctx, c, code)
		}
	}
	return nil
}

// lateExit handles a report for a run that is recorded as ended: a repeat
// (nothing to do, but an auto-remove left undone is finished) or the
// report of a run the sweep ended as vanished, whose real code it sets.
func (a *Backend) lateExit(ctx context.Context, c *records.Container, code int) error {
	if c.ExitUnreported {
		_, err := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
			if c.State.Running || !c.ExitUnreported {
				return ErrNotModified
			}
			c.ExitUnreported = false
			c.State.ExitCode = code
			c.State.Error = ""
			return nil
		}, records.Change[records.Container]{From: c})
		if err != nil && !errdefs.IsNotModified(err) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("record the exit of %s: %w", c.ID, err)
		}
	}
	if c.AutoRemoves() {
		return a.AutoRemove(ctx, c)
	}
	return nil
}

// OOMKilled implements providers.OOMReporter: the running container id
// passed its memory limit. It records State.OOMKilled and an `oom` event;
// the exit follows through Exited.
func (a *Backend) OOMKilled(ctx context.Context, id string, at time.Time) error {
	_, err := a.st.UpdateContainerFrom(ctx, id, func(c *records.Container) error {
		if !c.State.Running || c.State.OOMKilled {
			return ErrNotModified
		}
		c.State.OOMKilled = true
		return nil
	}, records.Change[records.Container]{Events: func(c *records.Container) []statestore.Event {
		return a.NewEvent(events.ContainerEventType, events.ActionOOM, id, ContainerAttrs(c))
	}})
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsNotModified(err) {
		return err
	}
	return nil
}

// restartDelay applies the restart policy to an exit: whether to restart
// and after how long (100 ms doubling per restart, at most a minute).
func restartDelay(c *records.Container, code int) (time.Duration, bool) {
	p := c.HostConfig.RestartPolicy
	switch {
	case c.ManualStop || c.Removing || c.HostConfig.AutoRemove:
		return 0, false
	case p.Name == container.RestartPolicyAlways, p.Name == container.RestartPolicyUnlessStopped:
	case p.Name == container.RestartPolicyOnFailure && code != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount):
	default:
		return 0, false
	}
	d := 100 * time.Millisecond << min(c.RestartCount, 10)
	return min(d, time.Minute), true
}

// restartLease is how long a caller that took a due restart has to start
// the container before another may take it (the first died midway).
const restartLease = 2 * time.Minute

// restartDue restarts container c if its restart is due at now and
// nothing else happened to it since (a start, a stop, a removal). The
// first caller to move RestartAt on by restartLease takes the restart, so
// two sweeps (or a sweep and a request) racing restart it once, and one
// that dies before the start leaves it to a sweep after the lease. The
// container shows as restarting throughout, as in Docker.
func (a *Backend) restartDue(ctx context.Context, c *records.Container, now time.Time) (bool, error) {
	if c.RestartAt.IsZero() || now.Before(c.RestartAt) || c.State.Running {
		return false, nil
	}
	c, err := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
		if c.RestartAt.IsZero() || now.Before(c.RestartAt) || c.State.Running || c.ManualStop || c.Removing {
			return ErrNotModified
		}
		c.RestartAt = now.Add(restartLease)
		return nil
	}, records.Change[records.Container]{From: c})
	if errdefs.IsNotModified(err) || errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := a.startContainer(ctx, c, true); err != nil {
		if errdefs.IsNotModified(err) {
			return false, nil
		}
		return false, fmt.Errorf("restart %s: %w", c.ID, err)
	}
	return true, nil
}

// ExecExited implements providers.Reporter: exec id ended with code.
func (a *Backend) ExecExited(ctx context.Context, id string, code int, at time.Time) error {
	e, err := a.st.UpdateExec(ctx, id, func(e *records.Exec) error {
		if e.ExitCode != nil {
			return nil
		}
		e.Running, e.Pid = false, 0
		e.ExitCode = &code
		e.Ended = at
		return nil
	})
	if err != nil {
		return err
	}
	a.Event(ctx, events.ContainerEventType, events.ActionExecDie, e.ContainerID, map[string]string{"execID": e.ID, "exitCode": strconv.Itoa(code)})
	return nil
}

// Health implements providers.Reporter: one probe result for container id.
func (a *Backend) Health(ctx context.Context, id string, res providers.HealthResult) error {
	var status string
	c, err := a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
		h := c.State.Health
		if h == nil || !c.State.Running {
			return nil
		}
		retries := 3
		if hc := c.Config.Healthcheck; hc != nil && hc.Retries > 0 {
			retries = hc.Retries
		}
		h.Log = append(h.Log, records.HealthLog{Start: res.Start, End: res.End, ExitCode: res.ExitCode, Output: res.Output})
		if len(h.Log) > 5 {
			h.Log = h.Log[len(h.Log)-5:]
		}
		if res.ExitCode == 0 {
			h.FailingStreak = 0
			h.Status = string(container.Healthy)
		} else {
			h.FailingStreak++
			if h.FailingStreak >= retries {
				h.Status = string(container.Unhealthy)
			}
		}
		status = h.Status
		return nil
	})
	if err != nil {
		return err
	}
	if status != "" {
		a.Event(ctx, events.ContainerEventType, events.Action("health_status: "+status), id, ContainerAttrs(c))
	}
	return nil
}
