package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/statestore"
)

var errNotModified = errdefs.NotModified(errors.New("not modified"))

func (a *API) containerStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	key, _, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if key != "" && c.StartKey == key {
		// A retry of a start that happened: the workload runs (or ran)
		// once.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if c.State.Running {
		return errNotModified
	}
	if err := a.startContainer(withStartKey(ctx, key), c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// startContainer marks c running (so an exit reported while Start is in
// flight lands on this run) and starts its workload.
func (a *API) startContainer(ctx context.Context, c *records.Container) error {
	if c.Removing {
		return errdefs.Conflictf("container is marked for removal and cannot be started")
	}
	c, err := a.reconcileWorkload(ctx, c)
	if err != nil {
		return err
	}
	now := a.st.Now()
	var seq int64
	// From c: no second read of a container the handler just read. The
	// start event is written with the state change, so it always precedes
	// the die of this run in the log.
	c, err = a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
		if c.State.Running {
			return errNotModified
		}
		c.StartSeq++
		c.ManualStop, c.RestartAt, c.ExitUnreported, c.ManualRestart = false, time.Time{}, false, false
		c.StartKey = startKey(ctx)
		seq = c.StartSeq
		c.State = records.State{Status: string(container.StateRunning), Running: true, StartedAt: now}
		if c.Config.Healthcheck != nil && len(c.Config.Healthcheck.Test) > 0 && c.Config.Healthcheck.Test[0] != "NONE" {
			c.State.Health = &records.Health{Status: string(container.Starting), Log: []records.HealthLog{}}
		}
		return nil
	}, records.Change[records.Container]{From: c, Events: func(c *records.Container) []statestore.Event {
		return a.newEvent(events.ContainerEventType, events.ActionStart, c.ID, containerAttrs(c))
	}})
	if err != nil {
		return err
	}
	if err := a.provider.Start(ctx, a.spec(c)); err != nil {
		msg := err.Error()
		// The start is in the log, so the failure is too: a die with
		// the code the state records.
		failed, ferr := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
			if c.StartSeq != seq || !c.State.Running {
				return errNotModified
			}
			c.State = records.State{Status: string(container.StateCreated), ExitCode: 128, Error: msg, FinishedAt: a.st.Now()}
			if c.ExitSeq > 0 {
				c.State.Status = string(container.StateExited)
			}
			return nil
		}, records.Change[records.Container]{From: c, Events: func(c *records.Container) []statestore.Event {
			attrs := containerAttrs(c)
			attrs["exitCode"] = "128"
			return a.newEvent(events.ContainerEventType, events.ActionDie, c.ID, attrs)
		}})
		// As Docker does, an auto-remove container that cannot start is
		// removed: `docker run --rm` waits for that before it exits.
		if ferr == nil && failed.HostConfig.AutoRemove {
			_ = a.autoRemove(context.WithoutCancel(ctx), failed)
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

func (a *API) containerStop(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	continued := r.Header.Get(controlapi.HeaderCursor) != ""
	if !c.State.Running {
		if continued {
			// It ended between two polls of this stop.
			a.finishStop(ctx, c)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		// A container waiting to be restarted stays stopped.
		a.markManualStop(ctx, c.ID)
		return errNotModified
	}
	timeout, err := stopTimeout(r, c)
	if err != nil {
		return err
	}
	a.resumedBySignal(ctx, c)
	if stopped, err := a.stopFor(w, r, c, timeout); err != nil || !stopped {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopFor stops running container c for request r: in bounded polls for
// a shim that asks (see boundedStop), else in one blocking call. It
// reports false when a poll answer saying to continue was written.
func (a *API) stopFor(w http.ResponseWriter, r *http.Request, c *records.Container, timeout time.Duration) (bool, error) {
	if r.Header.Get(controlapi.HeaderPoll) == "" {
		return true, a.stopContainer(r.Context(), c, timeout)
	}
	stopped, err := a.boundedStop(w, r, c, timeout)
	if err != nil || !stopped {
		return false, err
	}
	a.finishStop(r.Context(), c)
	return true, nil
}

// boundedStop stops c for a shim's bounded poll: the stop signal goes out
// on the first poll, SIGKILL at the deadline the cursor carries, and a
// poll that ends before the container does answers 202 with
// controlapi.HeaderContinue, so no request outlives the poll window
// however long the grace period. It reports whether c has stopped.
func (a *API) boundedStop(w http.ResponseWriter, r *http.Request, c *records.Container, timeout time.Duration) (bool, error) {
	ctx := r.Context()
	deadline := time.Now().Add(timeout)
	if cur := r.Header.Get(controlapi.HeaderCursor); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil {
			return false, errdefs.InvalidParameterf("invalid stop cursor")
		}
		deadline = time.Unix(0, n)
	} else {
		a.markManualStop(ctx, c.ID)
		sig := int(syscall.SIGTERM)
		if s, err := parseSignal(c.Config.StopSignal); c.Config.StopSignal != "" && err == nil {
			sig = s
		}
		if err := a.provider.Kill(ctx, c.ID, sig); err != nil && !errdefs.IsNotFound(err) {
			return false, fmt.Errorf("provider %s: stop: %w", a.provider.Name(), err)
		}
	}
	until := time.Now().Add(a.pollWindow(r))
	// Reads back off (100 ms doubling to 2 s): most containers end soon
	// after the signal, a few use their whole grace period.
	interval := 100 * time.Millisecond
	for {
		cur, err := a.st.Container(ctx, c.ID)
		if errdefs.IsNotFound(err) || (err == nil && (!cur.State.Running || cur.StartSeq != c.StartSeq)) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		now := time.Now()
		if !now.Before(deadline) {
			// The grace period is over: SIGKILL, which ends it at once.
			if err := a.provider.Stop(ctx, c.ID, 0); err != nil && !errdefs.IsNotFound(err) {
				return false, fmt.Errorf("provider %s: stop: %w", a.provider.Name(), err)
			}
			return true, nil
		}
		if !now.Before(until) {
			w.Header().Set(controlapi.HeaderContinue, strconv.FormatInt(deadline.UnixNano(), 10))
			w.WriteHeader(http.StatusAccepted)
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(min(interval, until.Sub(now), deadline.Sub(now))):
		}
		interval = min(2*interval, 2*time.Second)
	}
}

func stopTimeout(r *http.Request, c *records.Container) (time.Duration, error) {
	def := 10
	if c.Config.StopTimeout != nil {
		def = *c.Config.StopTimeout
	}
	t, err := httpx.IntValue(r, "t", def)
	if err != nil {
		return 0, err
	}
	if t < 0 {
		// -1 waits forever in Docker; a day is forever for a CI job.
		t = 86400
	}
	return time.Duration(t) * time.Second, nil
}

func (a *API) stopContainer(ctx context.Context, c *records.Container, timeout time.Duration) error {
	a.markManualStop(ctx, c.ID)
	if err := a.provider.Stop(ctx, c.ID, timeout); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("provider %s: stop: %w", a.provider.Name(), err)
	}
	a.finishStop(ctx, c)
	return nil
}

// finishStop records a stop that has ended the main process.
func (a *API) finishStop(ctx context.Context, c *records.Container) {
	// A provider whose exit report was lost still leaves a stopped
	// container: SIGKILL's code.
	a.markExitedLogged(ctx, c.ID, 137, a.st.Now(), c.StartSeq, nil)
	a.event(ctx, events.ContainerEventType, events.ActionStop, c.ID, containerAttrs(c))
}

func (a *API) containerKill(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	sig, err := parseSignal(r.URL.Query().Get("signal"))
	if err != nil {
		return err
	}
	if !c.State.Running {
		return errdefs.Conflictf("cannot kill container: %s: container %s is not running", r.PathValue("id"), c.ID)
	}
	a.markManualStop(ctx, c.ID)
	// Docker records kill when the signal is sent, so it precedes die.
	attrs := containerAttrs(c)
	attrs["signal"] = strconv.Itoa(sig)
	a.event(ctx, events.ContainerEventType, events.ActionKill, c.ID, attrs)
	if err := a.provider.Kill(ctx, c.ID, sig); err != nil {
		return fmt.Errorf("provider %s: kill: %w", a.provider.Name(), err)
	}
	a.resumedBySignal(ctx, c)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseSignal reads "KILL", "SIGKILL" or "9"; empty is SIGKILL.
func parseSignal(s string) (int, error) {
	if s == "" {
		return int(syscall.SIGKILL), nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.InvalidParameterf("invalid signal: %s", s)
		}
		return n, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	for n := 1; n < 32; n++ {
		if strings.EqualFold(strings.TrimPrefix(strings.ToUpper(unixSignalName(n)), "SIG"), name) {
			return n, nil
		}
	}
	return 0, errdefs.InvalidParameterf("invalid signal: %s", s)
}

func unixSignalName(n int) string {
	names := map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU", 23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS"}
	return names[n]
}

func (a *API) containerRestart(w http.ResponseWriter, r *http.Request) error {
	// As moby does, a restart is carried through when its client goes
	// away: the container is not left stopped.
	r = r.WithContext(context.WithoutCancel(r.Context()))
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	timeout, err := stopTimeout(r, c)
	if err != nil {
		return err
	}
	if c.State.Running {
		if c.HostConfig.AutoRemove && !c.ManualRestart {
			// Its stop must not remove it (moby sets
			// HasBeenManuallyRestarted before stopping).
			if c, err = a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
				c.ManualRestart = true
				return nil
			}, records.Change[records.Container]{From: c}); err != nil {
				return err
			}
		}
		if stopped, err := a.stopFor(w, r, c, timeout); err != nil || !stopped {
			return err
		}
		if c, err = a.st.Container(ctx, c.ID); err != nil {
			return err
		}
	}
	if err := a.startContainer(ctx, c); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	a.event(ctx, events.ContainerEventType, events.ActionRestart, c.ID, containerAttrs(c))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) containerPause(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, true)
}

func (a *API) containerUnpause(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, false)
}

func (a *API) setPaused(w http.ResponseWriter, r *http.Request, pause bool) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, ok := a.provider.(providers.Pauser)
	if !ok {
		return errdefs.NotImplementedf("pause is not supported by the %s provider", a.provider.Name())
	}
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if pause && c.State.Paused {
		return errdefs.Conflictf("container %s is already paused", c.ID)
	}
	if !pause && !c.State.Paused {
		return errdefs.Conflictf("container %s is not paused", c.ID)
	}
	action := events.ActionPause
	if pause {
		err = p.Pause(ctx, c.ID)
	} else {
		err = p.Unpause(ctx, c.ID)
		action = events.ActionUnPause
	}
	if err != nil {
		return err
	}
	_, err = a.st.UpdateContainer(ctx, c.ID, func(c *records.Container) error {
		c.State.Paused = pause
		c.State.Status = string(container.StateRunning)
		if pause {
			c.State.Status = string(container.StatePaused)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.event(ctx, events.ContainerEventType, action, c.ID, containerAttrs(c))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitCursor is what a wait carries between bounded polls.
type waitCursor struct {
	ID       string `json:"id"`
	ExitSeq  int64  `json:"s"`
	ExitCode int    `json:"c"`
	// Since is when the wait began (Unix ns): a container removed between
	// polls has its exit code looked up in the events since then.
	Since int64 `json:"t"`
}

func (a *API) containerWait(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("id")
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return errdefs.InvalidParameterf("invalid condition: %q", cond)
	}
	return a.longPoll(w, r, longPollSpec{
		contentType: "application/json",
		watchKind:   records.KindContainer,
		watchFor: func(raw string) string {
			var cur waitCursor
			if json.Unmarshal([]byte(raw), &cur) != nil {
				return ""
			}
			return cur.ID
		},
		step: func(ctx context.Context, raw string) ([]byte, string, bool, error) {
			var cur waitCursor
			first := raw == ""
			if !first {
				if err := json.Unmarshal([]byte(raw), &cur); err != nil {
					return nil, raw, false, errdefs.InvalidParameterf("invalid wait cursor")
				}
			}
			if first {
				cur.ID, cur.Since = ref, a.st.Now().UnixNano()
			}
			var c *records.Container
			var err error
			if first {
				c, err = a.st.Container(ctx, cur.ID)
				if err != nil {
					return nil, "", false, err
				}
			} else {
				// The cursor holds the full id: one lookup, never a
				// name or prefix search for a container that is gone.
				c, err = a.st.ContainerByID(ctx, cur.ID)
			}
			if errdefs.IsNotFound(err) {
				// Gone: whatever the condition, the wait is over, with the
				// exit code of its last run.
				return waitBody(a.lastExitCode(ctx, cur), ""), raw, true, nil
			}
			if err != nil {
				return nil, raw, false, err
			}
			if first {
				cur.ID, cur.ExitSeq = c.ID, c.ExitSeq
			}
			cur.ExitCode = c.State.ExitCode
			next, _ := json.Marshal(cur)
			switch cond {
			case container.WaitConditionRemoved:
				return nil, string(next), false, nil
			case container.WaitConditionNextExit:
				if c.ExitSeq > cur.ExitSeq {
					return waitBody(c.State.ExitCode, c.State.Error), string(next), true, nil
				}
			default:
				if !c.State.Running {
					return waitBody(c.State.ExitCode, c.State.Error), string(next), true, nil
				}
			}
			return nil, string(next), false, nil
		},
	})
}

// lastExitCode finds the exit code of a removed container from its last
// die event since the wait began, falling back to the last code seen.
func (a *API) lastExitCode(ctx context.Context, cur waitCursor) int {
	evs, err := a.st.Events(ctx, "", time.Unix(0, cur.Since), time.Time{})
	if err != nil {
		return cur.ExitCode
	}
	code := cur.ExitCode
	for _, e := range evs {
		if e.Message.Actor.ID == cur.ID && e.Message.Action == events.ActionDie {
			if n, err := strconv.Atoi(e.Message.Actor.Attributes["exitCode"]); err == nil {
				code = n
			}
		}
	}
	return code
}

func waitBody(code int, errMsg string) []byte {
	resp := container.WaitResponse{StatusCode: int64(code)}
	if errMsg != "" {
		resp.Error = &container.WaitExitError{Message: errMsg}
	}
	b, _ := json.Marshal(resp)
	return append(b, '\n')
}

// markExited records the end of run seq of container id (seq 0: the
// current run). It reports false, changing nothing, when that run already
// ended or a newer run started, and an error when the store could not be
// read or written (the exit is then not recorded: the caller must retry).
// from, when not nil, is the container as the caller read it. The die
// event is written with the change, and so is the restart the policy
// asks for (RestartAt), so no process has to remember it.
func (a *API) markExited(ctx context.Context, id string, code int, at time.Time, seq int64, from *records.Container) (*records.Container, bool, error) {
	c, err := a.st.UpdateContainerFrom(ctx, id, func(c *records.Container) error {
		if !c.State.Running || (seq != 0 && c.StartSeq != seq) {
			return errNotModified
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
		if a.cfg.Wake != nil {
			// Told before the write: a sweep that comes early finds
			// nothing due and reports when it will be.
			a.cfg.Wake(c.RestartAt)
		}
		return nil
	}, records.Change[records.Container]{From: from, Events: func(c *records.Container) []statestore.Event {
		attrs := containerAttrs(c)
		attrs["exitCode"] = strconv.Itoa(code)
		return a.newEvent(events.ContainerEventType, events.ActionDie, id, attrs)
	}})
	if errdefs.IsNotFound(err) || errdefs.IsNotModified(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("record the exit of %s: %w", id, err)
	}
	a.notify(ctx, id)
	return c, true, nil
}

// markExitedLogged is markExited for paths that end a run themselves
// (stop, kill on removal): a failed write is logged, and the sweep or the
// workload's own report records the exit later.
func (a *API) markExitedLogged(ctx context.Context, id string, code int, at time.Time, seq int64, from *records.Container) {
	if _, _, err := a.markExited(ctx, id, code, at, seq, from); err != nil {
		a.log.Warn("exit not recorded", "container", id, "err", err)
	}
}

func (a *API) markManualStop(ctx context.Context, id string) {
	_, _ = a.st.UpdateContainer(ctx, id, func(c *records.Container) error {
		c.ManualStop, c.RestartAt = true, time.Time{}
		return nil
	})
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
func (a *API) Exited(ctx context.Context, id string, code int, at time.Time) error {
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
	if from.AutoRemoves() && !from.Removing && a.exitAndRemove(ctx, from, code) {
		return nil
	}
	c, changed, err := a.markExited(ctx, id, code, at, 0, from)
	if err != nil {
		return err
	}
	if changed && c.AutoRemoves() {
		return a.removeContainer(ctx, c, false)
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
func (a *API) lateExit(ctx context.Context, c *records.Container, code int) error {
	if c.ExitUnreported {
		_, err := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
			if c.State.Running || !c.ExitUnreported {
				return errNotModified
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
		return a.autoRemove(ctx, c)
	}
	return nil
}

// OOMKilled implements providers.OOMReporter: the running container id
// passed its memory limit. It records State.OOMKilled and an `oom` event;
// the exit follows through Exited.
func (a *API) OOMKilled(ctx context.Context, id string, at time.Time) error {
	_, err := a.st.UpdateContainerFrom(ctx, id, func(c *records.Container) error {
		if !c.State.Running || c.State.OOMKilled {
			return errNotModified
		}
		c.State.OOMKilled = true
		return nil
	}, records.Change[records.Container]{Events: func(c *records.Container) []statestore.Event {
		return a.newEvent(events.ContainerEventType, events.ActionOOM, id, containerAttrs(c))
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

// restartDue restarts container c if its restart is due at now and
// nothing else happened to it since (a start, a stop, a removal): the
// first caller to clear RestartAt wins, so two sweeps (or a sweep and a
// request) racing restart it once.
func (a *API) restartDue(ctx context.Context, c *records.Container, now time.Time) (bool, error) {
	if c.RestartAt.IsZero() || now.Before(c.RestartAt) || c.State.Running {
		return false, nil
	}
	c, err := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
		if c.RestartAt.IsZero() || now.Before(c.RestartAt) || c.State.Running || c.ManualStop || c.Removing {
			return errNotModified
		}
		c.RestartAt = time.Time{}
		c.RestartCount++
		return nil
	}, records.Change[records.Container]{From: c})
	if errdefs.IsNotModified(err) || errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := a.startContainer(ctx, c); err != nil && !errdefs.IsNotModified(err) {
		return false, fmt.Errorf("restart %s: %w", c.ID, err)
	}
	return true, nil
}

// ExecExited implements providers.Reporter: exec id ended with code.
func (a *API) ExecExited(ctx context.Context, id string, code int, at time.Time) error {
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
	a.event(ctx, events.ContainerEventType, events.ActionExecDie, e.ContainerID, map[string]string{"execID": e.ID, "exitCode": strconv.Itoa(code)})
	return nil
}

// Health implements providers.Reporter: one probe result for container id.
func (a *API) Health(ctx context.Context, id string, res providers.HealthResult) error {
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
		a.event(ctx, events.ContainerEventType, events.Action("health_status: "+status), id, containerAttrs(c))
	}
	return nil
}
