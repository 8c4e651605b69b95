package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

func (a *Router) postContainersStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	key, _, err := core.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if key != "" && c.StartKey == key {
		// A retry of a start that happened: the workload runs (or ran)
		// once.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if c.State.Up() {
		// Running, or restarting: Docker leaves the restart to its policy.
		return core.ErrNotModified
	}
	if err := a.b.StartContainer(core.WithStartKey(ctx, key), c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) postContainersStop(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	continued := r.Header.Get(controlapi.HeaderCursor) != ""
	if !c.State.Running {
		if continued {
			// It ended between two polls of this stop.
			a.b.FinishStop(ctx, c)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		// A container waiting to be restarted stays stopped; one that a
		// restart started since it was read is stopped below.
		now := a.b.MarkManualStop(ctx, c.ID)
		if now != nil && !now.State.Running && c.State.Restarting {
			// Docker counts a restarting container as running: its stop
			// is a stop (204, a stop event) that cancels the restart.
			a.b.Event(ctx, events.ContainerEventType, events.ActionStop, c.ID, core.ContainerAttrs(now))
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		if now == nil || !now.State.Running {
			return core.ErrNotModified
		}
		c = now
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
func (a *Router) stopFor(w http.ResponseWriter, r *http.Request, c *records.Container, timeout time.Duration) (bool, error) {
	if r.Header.Get(controlapi.HeaderPoll) == "" {
		return true, a.b.StopContainer(r.Context(), c, timeout)
	}
	stopped, err := a.boundedStop(w, r, c, timeout)
	if err != nil || !stopped {
		return false, err
	}
	a.b.FinishStop(r.Context(), c)
	return true, nil
}

// boundedStop stops c for a shim's bounded poll: the stop signal goes out
// on the first poll, SIGKILL at the deadline the cursor carries, and a
// poll that ends before the container does answers 202 with
// controlapi.HeaderContinue, so no request outlives the poll window
// however long the grace period. It reports whether c has stopped.
func (a *Router) boundedStop(w http.ResponseWriter, r *http.Request, c *records.Container, timeout time.Duration) (bool, error) {
	ctx := r.Context()
	deadline := time.Now().Add(timeout)
	if cur := r.Header.Get(controlapi.HeaderCursor); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil {
			return false, errdefs.InvalidParameterf("invalid stop cursor")
		}
		deadline = time.Unix(0, n)
	} else {
		a.b.MarkManualStop(ctx, c.ID)
		sig := int(syscall.SIGTERM)
		if s, err := parseSignal(c.Config.StopSignal); c.Config.StopSignal != "" && err == nil {
			sig = s
		}
		if err := a.provider.Kill(ctx, c.ID, sig); err != nil && !errdefs.IsNotFound(err) {
			return false, fmt.Errorf("provider %s: stop: %w", a.provider.Name(), err)
		}
	}
	until := time.Now().Add(a.b.PollWindow(r))
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

func (a *Router) postContainersKill(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// As moby's router: the signal is checked before the container is
	// looked up, and every refusal is worded "cannot kill container:
	// NAME: ..." with its own class.
	sig, err := parseSignal(r.URL.Query().Get("signal"))
	if err != nil {
		return fmt.Errorf("cannot kill container: %s: %w", r.PathValue("id"), err)
	}
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("cannot kill container: %s: %w", r.PathValue("id"), err)
	}
	if c.State.Restarting {
		// As Docker: killing a restarting container cancels the restart;
		// there is no process to signal. One that a restart started
		// since it was read is killed below.
		now := a.b.MarkManualStop(ctx, c.ID)
		if now != nil && !now.State.Running {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		if now != nil {
			c = now
		}
	}
	if !c.State.Running {
		return errdefs.Conflictf("cannot kill container: %s: container %s is not running", r.PathValue("id"), c.ID)
	}
	a.b.MarkManualStop(ctx, c.ID)
	// Docker records kill when the signal is sent, so it precedes die.
	attrs := core.ContainerAttrs(c)
	attrs["signal"] = strconv.Itoa(sig)
	a.b.Event(ctx, events.ContainerEventType, events.ActionKill, c.ID, attrs)
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

func (a *Router) postContainersRestart(w http.ResponseWriter, r *http.Request) error {
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
	if err := a.b.StartContainer(ctx, c); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	a.b.Event(ctx, events.ContainerEventType, events.ActionRestart, c.ID, core.ContainerAttrs(c))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) postContainersPause(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, true)
}

func (a *Router) postContainersUnpause(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, false)
}

func (a *Router) setPaused(w http.ResponseWriter, r *http.Request, pause bool) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, ok := providers.As[providers.Pauser](a.provider)
	if !ok {
		return errdefs.NotImplementedf("pause is not supported by the %s provider", a.provider.Name())
	}
	if pause && c.State.Restarting {
		return records.ErrRestarting(c.ID)
	}
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if pause && c.State.Paused {
		return errdefs.Conflictf("container %s is already paused", c.ID)
	}
	if !pause && !c.State.Paused {
		return errdefs.Conflictf("Container %s is not paused", c.ID)
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
	a.b.Event(ctx, events.ContainerEventType, action, c.ID, core.ContainerAttrs(c))
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

func (a *Router) postContainersWait(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("id")
	cond := container.WaitCondition(r.URL.Query().Get("condition"))
	switch cond {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return errdefs.InvalidParameterf("invalid condition: %q", cond)
	}
	return a.b.LongPoll(w, r, core.LongPollSpec{
		ContentType: "application/json",
		WatchKind:   records.KindContainer,
		WatchFor: func(raw string) string {
			var cur waitCursor
			if json.Unmarshal([]byte(raw), &cur) != nil {
				return ""
			}
			return cur.ID
		},
		Step: func(ctx context.Context, raw string) ([]byte, string, bool, error) {
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
				// Docker counts a restarting container as running: the
				// wait lasts until its next exit (or a stop).
				if !c.State.Up() || (c.State.Restarting && c.ExitSeq > cur.ExitSeq) {
					return waitBody(c.State.ExitCode, c.State.Error), string(next), true, nil
				}
			}
			return nil, string(next), false, nil
		},
	})
}

// lastExitCode finds the exit code of a removed container from its last
// die event since the wait began, falling back to the last code seen.
func (a *Router) lastExitCode(ctx context.Context, cur waitCursor) int {
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
