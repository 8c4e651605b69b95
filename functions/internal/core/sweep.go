package core

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// MaxSweepActions bounds the work of one sweep (restarts and
// reconciliations), so one call fits any platform's time limit; the
// report says when more is left for the next call.
const MaxSweepActions = 64

// SweepReport is what one sweep did.
type SweepReport struct {
	// Restarted are the containers restarted by their restart policy.
	Restarted []string `json:"restarted"`
	// Reconciled are the running containers whose workload was gone
	// without an exit report, now recorded as exited: with the code the
	// provider knows (providers.ExitInspector), else 255.
	Reconciled []string `json:"reconciled"`
	// Failed are the containers whose action failed (it is tried again
	// by the next sweep), with the reason; "tidy:PROVIDER" when the
	// provider's tidying failed.
	Failed map[string]string `json:"failed,omitempty"`
	// Next is the earliest restart still to come (zero: none), so a
	// scheduler that can may call again then.
	Next time.Time `json:"next,omitzero"`
	// More says that MaxSweepActions was reached with work left.
	More bool `json:"more,omitempty"`
	// Tidied are the platform resources released as unused
	// (providers.Tidier: ECS task definitions no task has used lately).
	Tidied []string `json:"tidied,omitempty"`
}

// exitUnreportedCode is the exit code of a run whose workload vanished
// without reporting, as Docker records containers after a daemon crash.
const exitUnreportedCode = 255

const exitUnreportedMsg = "the container's workload ended without reporting its exit"

// Sweep reconciles the store with the world: restarts that are due by
// policy are made, and running containers whose workload no longer exists
// (when the provider can tell, providers.Inspector) are recorded as
// exited; then the provider releases what no container uses any more
// (providers.Tidier). It keeps nothing between calls and is idempotent: every action
// is a conditional write, so concurrent sweeps act once. It is bounded by
// MaxSweepActions.
//
// # Errors
//
// Only a failure to list the containers; a failed action is reported in
// SweepReport.Failed and retried by the next sweep.
func (a *Backend) Sweep(ctx context.Context) (SweepReport, error) {
	rep := SweepReport{Restarted: []string{}, Reconciled: []string{}}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return rep, fmt.Errorf("sweep: list containers: %w", err)
	}
	insp, _ := providers.As[providers.Inspector](a.provider)
	now := a.st.Now()
	actions := 0
	fail := func(id string, err error) {
		if rep.Failed == nil {
			rep.Failed = map[string]string{}
		}
		rep.Failed[id] = err.Error()
	}
	for _, c := range cs {
		if actions >= MaxSweepActions {
			rep.More = true
			break
		}
		switch {
		case !c.RestartAt.IsZero() && !c.State.Running:
			if now.Before(c.RestartAt) {
				if rep.Next.IsZero() || c.RestartAt.Before(rep.Next) {
					rep.Next = c.RestartAt
				}
				continue
			}
			actions++
			ok, err := a.restartDue(ctx, c, now)
			if err != nil {
				fail(c.ID, err)
			} else if ok {
				rep.Restarted = append(rep.Restarted, c.ID)
			}
		case c.State.Running && insp != nil:
			exists, err := insp.Exists(ctx, c.ID)
			if err != nil {
				fail(c.ID, err)
				continue
			}
			if exists {
				continue
			}
			actions++
			ex, err := a.providerExit(ctx, c)
			if err != nil {
				fail(c.ID, err)
				continue
			}
			done, err := a.exitVanished(ctx, c, ex)
			if err != nil {
				fail(c.ID, err)
			} else if done {
				rep.Reconciled = append(rep.Reconciled, c.ID)
			}
		}
	}
	if t, ok := providers.As[providers.Tidier](a.provider); ok {
		names, err := t.Tidy(ctx)
		rep.Tidied = names
		if err != nil {
			fail("tidy:"+a.provider.Name(), err)
		}
	}
	return rep, nil
}

// providerExit asks the provider how container c's vanished workload
// ended (providers.ExitInspector); nil when it cannot tell, or when what
// it knows is about another run.
func (a *Backend) providerExit(ctx context.Context, c *records.Container) (*providers.Exit, error) {
	ei, ok := providers.As[providers.ExitInspector](a.provider)
	if !ok {
		return nil, nil
	}
	ex, ok, err := ei.ExitOf(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("provider %s: how the workload ended: %w", a.provider.Name(), err)
	}
	if !ok || (!ex.At.IsZero() && ex.At.Before(c.State.StartedAt)) {
		return nil, nil
	}
	if ex.At.IsZero() {
		ex.At = a.st.Now()
	}
	return &ex, nil
}

// exitVanished records the end of running container c, whose workload is
// gone without an exit report: with the exit the provider knows (ex, and
// State.OOMKilled with an `oom` event when it was killed for memory), or
// else exited with 255 (a late report of that run still sets its real
// code); then removed if it was an auto-remove one. Its restart policy
// applies as to any exit.
func (a *Backend) exitVanished(ctx context.Context, c *records.Container, ex *providers.Exit) (bool, error) {
	if ex != nil {
		from := c
		if ex.OOMKilled {
			if err := a.OOMKilled(ctx, c.ID, ex.At); err != nil {
				return false, err
			}
			from = nil
		}
		upd, changed, err := a.MarkExited(ctx, c.ID, ex.Code, ex.At, c.StartSeq, from)
		if err != nil || !changed {
			return false, err
		}
		if upd.AutoRemoves() {
			return true, a.RemoveContainer(ctx, upd, false)
		}
		return true, nil
	}
	upd, changed, err := a.MarkExited(ctx, c.ID, exitUnreportedCode, a.st.Now(), c.StartSeq, c)
	if err != nil || !changed {
		return false, err
	}
	upd, err = a.st.UpdateContainerFrom(ctx, upd.ID, func(x *records.Container) error {
		if x.State.Running || x.StartSeq != c.StartSeq {
			return ErrNotModified
		}
		x.ExitUnreported = true
		x.State.Error = exitUnreportedMsg
		return nil
	}, records.Change[records.Container]{From: upd})
	if err != nil && !errdefs.IsNotModified(err) && !errdefs.IsNotFound(err) {
		return true, err
	}
	if upd != nil && upd.AutoRemoves() {
		return true, a.RemoveContainer(ctx, upd, false)
	}
	return true, nil
}

// ReconcileWorkload checks, for a request about to use container c's
// workload (exec, attach, start), that the workload exists, when the
// provider can tell. A running container without one is recorded as
// exited at once, and the request answers that it is not running instead
// of waiting for an agent that will never come; a created one gets its
// workload again (a restarted control plane lost it) so it can start.
// When the provider cannot say (the relay is down), the request goes on
// as if the workload existed and meets the real failure where it uses
// the workload (an exec then ends unstarted, 126, with the reason):
// a check that cannot be made must not fail a request it only refines.
func (a *Backend) ReconcileWorkload(ctx context.Context, c *records.Container) (*records.Container, error) {
	insp, ok := providers.As[providers.Inspector](a.provider)
	if !ok || c.Removing {
		return c, nil
	}
	exists, err := insp.Exists(ctx, c.ID)
	if err != nil {
		a.log.Warn("cannot tell whether the workload exists; going on", "container", c.ID, "err", err)
		return c, nil
	}
	if exists {
		return c, nil
	}
	if c.State.Running {
		ex, err := a.providerExit(ctx, c)
		if err != nil {
			return nil, err
		}
		if _, err := a.exitVanished(ctx, c, ex); err != nil {
			return nil, err
		}
		return nil, errdefs.Conflictf("container %s is not running: %s", c.ID, exitUnreportedMsg)
	}
	switch container.ContainerState(c.State.Status) {
	case container.StateCreated, container.StateExited, container.StateRestarting:
		if err := a.provider.Create(ctx, a.Spec(c)); err != nil {
			return nil, fmt.Errorf("provider %s: create the workload again: %w", a.provider.Name(), err)
		}
	}
	return c, nil
}
