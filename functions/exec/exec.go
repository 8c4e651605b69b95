package exec

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

func (a *Router) postContainerExecCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req container.ExecCreateRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return errdefs.InvalidParameterf("No exec command specified")
	}
	if c.State.Restarting {
		return records.ErrRestarting(c.ID)
	}
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if c.State.Paused {
		return errdefs.Conflictf("Container %s is paused, unpause the container before exec", r.PathValue("id"))
	}
	if c, err = a.b.ReconcileWorkload(ctx, c); err != nil {
		return err
	}
	if uc, ok := providers.As[providers.UserChecker](a.provider); ok && req.User != "" {
		// Docker refuses an unknown user at create (400), not at start.
		if err := uc.CheckUser(ctx, c.ID, req.User); err != nil {
			return err
		}
	}
	if !c.HadExec {
		// Marked before the exec exists: a removal racing this write
		// either sees the mark (and lists the execs) or makes it fail.
		if _, err := a.st.UpdateContainerFrom(ctx, c.ID, func(c *records.Container) error {
			if !c.State.Running {
				return errdefs.Conflictf("container %s is not running", c.ID)
			}
			c.HadExec = true
			return nil
		}, records.Change[records.Container]{From: c}); err != nil {
			return err
		}
	}
	e := &records.Exec{
		ID:           core.NewID(),
		ContainerID:  c.ID,
		Created:      a.st.Now(),
		Cmd:          req.Cmd,
		Env:          req.Env,
		WorkingDir:   req.WorkingDir,
		User:         req.User,
		Privileged:   req.Privileged,
		Tty:          req.Tty,
		AttachStdin:  req.AttachStdin,
		AttachStdout: req.AttachStdout,
		AttachStderr: req.AttachStderr,
		DetachKeys:   req.DetachKeys,
		ConsoleSize:  req.ConsoleSize,
	}
	if err := a.st.CreateExec(ctx, e); err != nil {
		return err
	}
	a.b.Event(ctx, events.ContainerEventType, events.Action("exec_create: "+strings.Join(req.Cmd, " ")), c.ID, map[string]string{"execID": e.ID, "name": c.Name})
	return httpx.WriteJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: e.ID})
}

func (a *Router) postContainerExecStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req container.ExecStartRequest
	if err := httpx.DecodeJSON(r, &req, true); err != nil {
		return err
	}
	e, err := a.st.Exec(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err := a.st.Container(ctx, e.ContainerID)
	if err != nil {
		return err
	}
	if c.State.Restarting {
		return records.ErrRestarting(c.ID)
	}
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if !req.Detach && r.Header.Get(controlapi.HeaderShim) == "" {
		return core.ErrNeedsShim
	}
	if c, err = a.b.ReconcileWorkload(ctx, c); err != nil {
		return err
	}
	if req.Detach && a.cfg.Dialer == nil {
		return errdefs.NotImplementedf("detached exec is not supported by this deployment")
	}
	if _, err := a.st.UpdateExec(ctx, e.ID, func(e *records.Exec) error {
		if e.Started {
			return errdefs.Conflictf("Exec command %s is already running", e.ID)
		}
		e.Started, e.Running = true, true
		return nil
	}); err != nil {
		return err
	}
	env := core.MergeEnv(c.Config.Env, e.Env)
	wd := e.WorkingDir
	if wd == "" {
		wd = c.Config.WorkingDir
	}
	user := e.User
	if user == "" {
		user = c.Config.User
	}
	p := &ticket.Process{Cmd: e.Cmd, Env: env, WorkingDir: wd, User: user, Tty: e.Tty, Stdin: e.AttachStdin && !req.Detach, Stdout: e.AttachStdout, Stderr: e.AttachStderr}
	g := ticket.Grant{Container: c.ID, Kind: ticket.KindExec, ExecID: e.ID, Process: p, Tty: e.Tty}
	a.b.Event(ctx, events.ContainerEventType, events.Action("exec_start: "+strings.Join(e.Cmd, " ")), c.ID, map[string]string{"execID": e.ID, "name": c.Name})
	if req.Detach {
		return a.startDetached(ctx, w, g)
	}
	// As moby does, the stream's framing follows the start request's Tty
	// (raw only when it is set), whatever terminal the process has.
	return a.b.IssueTicket(w, g, req.Tty, e.ID)
}

// startDetached hands a detached exec to the container's agent: it opens
// the exec's session, waits for the agent to say the process is handed
// over (Ready) and closes the session before answering, so nothing of the
// request outlives it. The agent runs the process to its end and reports
// the exit itself (ticket.Process.Detached).
func (a *Router) startDetached(ctx context.Context, w http.ResponseWriter, g ticket.Grant) error {
	g.Session = core.NewID()[:32]
	g.Expires = a.st.Now().Add(a.cfg.TicketTTL).Unix()
	g.Process.Detached = true
	tok, err := ticket.Sign(a.cfg.Secret, g)
	if err != nil {
		return err
	}
	conn, err := a.cfg.Dialer.Dial(ctx, a.cfg.RelayURL, tok)
	if err != nil {
		_ = a.b.ExecExited(context.WithoutCancel(ctx), g.ExecID, 126, a.st.Now())
		return err
	}
	defer conn.Close()
	_ = frame.Write(conn, frame.CloseStdin, nil)
	// The first frame says how the hand-over went: Ready (running), or an
	// Exit or Error frame of a process that ended or failed at once, whose
	// exit the agent reports as any other.
	if _, err := frame.Read(conn); err != nil {
		return errdefs.Unavailable(fmt.Errorf("the container's agent did not take the detached exec: %w", err))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// postExecUnstarted records that a shim could not connect exec {id}'s
// stream: the command never ran, so the exec ends with
// controlapi.ExitUnstarted (an exec that already has a code keeps it).
func (a *Router) postExecUnstarted(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(controlapi.HeaderShim) == "" {
		return errdefs.InvalidParameterf("only a sockerless shim reports an unstarted exec")
	}
	e, err := a.st.Exec(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !e.Started {
		return errdefs.Conflictf("exec %s was not started", e.ID)
	}
	if err := a.b.ExecExited(r.Context(), e.ID, controlapi.ExitUnstarted, a.st.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) getExecByID(w http.ResponseWriter, r *http.Request) error {
	e, err := a.st.Exec(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	resp := container.ExecInspectResponse{
		ID:            e.ID,
		Running:       e.Running,
		ExitCode:      e.ExitCode,
		ProcessConfig: &container.ExecProcessConfig{Tty: e.Tty, Entrypoint: e.Cmd[0], Arguments: core.NonNil(e.Cmd[1:]), User: e.User, Privileged: &e.Privileged},
		OpenStdin:     e.AttachStdin,
		OpenStdout:    e.AttachStdout,
		OpenStderr:    e.AttachStderr,
		CanRemove:     e.ExitCode != nil,
		ContainerID:   e.ContainerID,
		DetachKeys:    []byte(e.DetachKeys),
		Pid:           a.execPID(r.Context(), e),
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

// postContainerExecResize validates; a live session's TTY is resized by the shim,
// which owns the stream.
func (a *Router) postContainerExecResize(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := core.ResizeParams(r); err != nil {
		return err
	}
	e, err := a.st.Exec(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !e.Running {
		return errdefs.Conflictf("exec %s is not running", e.ID)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
