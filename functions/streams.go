package functions

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// errNeedsShim answers a hijack request that did not come through a shim:
// a serverless function cannot hold the upgraded connection.
var errNeedsShim = errdefs.InvalidParameterf("attach and interactive exec need the sockerless shim: point DOCKER_HOST at `sockerless`, not at the functions endpoint")

// issueTicket signs g and answers it as a StreamTicket.
func (a *API) issueTicket(w http.ResponseWriter, g ticket.Grant, tty bool, id string) error {
	g.Session = newID()[:32]
	now := a.st.Now()
	g.Issued = now.UnixNano()
	g.Expires = now.Add(a.cfg.TicketTTL).Unix()
	tok, err := ticket.Sign(a.cfg.Secret, g)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", controlapi.MediaTicket)
	w.WriteHeader(http.StatusOK)
	st := controlapi.StreamTicket{RelayURL: a.cfg.RelayURL, Token: tok, Tty: tty, Kind: g.Kind, ID: id}
	if ea, ok := a.provider.(providers.EarlyAttacher); ok && g.Kind == ticket.KindAttach {
		st.WaitReady = ea.AttachesBeforeStart()
	}
	return json.NewEncoder(w).Encode(st)
}

func (a *API) containerAttach(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.Removing {
		return errdefs.Conflictf("container %s is being removed", c.ID)
	}
	if r.Header.Get(controlapi.HeaderShim) == "" {
		return errNeedsShim
	}
	if c, err = a.reconcileWorkload(ctx, c); err != nil {
		return err
	}
	g := ticket.Grant{
		Container: c.ID,
		Kind:      ticket.KindAttach,
		Stdin:     httpx.BoolValue(r, "stdin"),
		Stdout:    httpx.BoolValue(r, "stdout"),
		Stderr:    httpx.BoolValue(r, "stderr"),
		Tty:       c.Config.Tty,
	}
	a.event(ctx, events.ContainerEventType, events.ActionAttach, c.ID, containerAttrs(c))
	return a.issueTicket(w, g, c.Config.Tty, c.ID)
}

func (a *API) execCreate(w http.ResponseWriter, r *http.Request) error {
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
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if c.State.Paused {
		return errdefs.Conflictf("Container %s is paused, unpause the container before exec", r.PathValue("id"))
	}
	if c, err = a.reconcileWorkload(ctx, c); err != nil {
		return err
	}
	if uc, ok := a.provider.(providers.UserChecker); ok && req.User != "" {
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
		ID:           newID(),
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
	a.event(ctx, events.ContainerEventType, events.Action("exec_create: "+strings.Join(req.Cmd, " ")), c.ID, map[string]string{"execID": e.ID, "name": c.Name})
	return httpx.WriteJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: e.ID})
}

func (a *API) execStart(w http.ResponseWriter, r *http.Request) error {
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
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	if !req.Detach && r.Header.Get(controlapi.HeaderShim) == "" {
		return errNeedsShim
	}
	if c, err = a.reconcileWorkload(ctx, c); err != nil {
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
	env := mergeEnv(c.Config.Env, e.Env)
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
	a.event(ctx, events.ContainerEventType, events.Action("exec_start: "+strings.Join(e.Cmd, " ")), c.ID, map[string]string{"execID": e.ID, "name": c.Name})
	if req.Detach {
		return a.startDetached(ctx, w, g)
	}
	// As moby does, the stream's framing follows the start request's Tty
	// (raw only when it is set), whatever terminal the process has.
	return a.issueTicket(w, g, req.Tty, e.ID)
}

// startDetached hands a detached exec to the container's agent: it opens
// the exec's session, waits for the agent to say the process is handed
// over (Ready) and closes the session before answering, so nothing of the
// request outlives it. The agent runs the process to its end and reports
// the exit itself (ticket.Process.Detached).
func (a *API) startDetached(ctx context.Context, w http.ResponseWriter, g ticket.Grant) error {
	g.Session = newID()[:32]
	g.Expires = a.st.Now().Add(a.cfg.TicketTTL).Unix()
	g.Process.Detached = true
	tok, err := ticket.Sign(a.cfg.Secret, g)
	if err != nil {
		return err
	}
	conn, err := a.cfg.Dialer.Dial(ctx, a.cfg.RelayURL, tok)
	if err != nil {
		_ = a.ExecExited(context.WithoutCancel(ctx), g.ExecID, 126, a.st.Now())
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

// execUnstarted records that a shim could not connect exec {id}'s
// stream: the command never ran, so the exec ends with
// controlapi.ExitUnstarted (an exec that already has a code keeps it).
func (a *API) execUnstarted(w http.ResponseWriter, r *http.Request) error {
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
	if err := a.ExecExited(r.Context(), e.ID, controlapi.ExitUnstarted, a.st.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) execInspect(w http.ResponseWriter, r *http.Request) error {
	e, err := a.st.Exec(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	resp := container.ExecInspectResponse{
		ID:            e.ID,
		Running:       e.Running,
		ExitCode:      e.ExitCode,
		ProcessConfig: &container.ExecProcessConfig{Tty: e.Tty, Entrypoint: e.Cmd[0], Arguments: nonNil(e.Cmd[1:]), User: e.User, Privileged: &e.Privileged},
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

// execResize validates; a live session's TTY is resized by the shim,
// which owns the stream.
func (a *API) execResize(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := resizeParams(r); err != nil {
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

func (a *API) containerResize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := resizeParams(r)
	if err != nil {
		return err
	}
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !c.State.Running {
		return errdefs.Conflictf("cannot resize container %s: container is not running", c.ID)
	}
	if rz, ok := a.provider.(providers.Resizer); ok {
		if err := rz.Resize(r.Context(), c.ID, h, wd); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func resizeParams(r *http.Request) (uint, uint, error) {
	h, err := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	if err != nil {
		return 0, 0, errdefs.InvalidParameterf("invalid resize height %q", r.URL.Query().Get("h"))
	}
	wd, err := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err != nil {
		return 0, 0, errdefs.InvalidParameterf("invalid resize width %q", r.URL.Query().Get("w"))
	}
	return uint(h), uint(wd), nil
}

func (a *API) containerLogs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	stdout, stderr := httpx.BoolValue(r, "stdout"), httpx.BoolValue(r, "stderr")
	if !stdout && !stderr {
		return errdefs.InvalidParameterf("Bad parameters: you must choose at least one stream")
	}
	now := a.st.Now()
	since, err := parseTime(q.Get("since"), now)
	if err != nil {
		return err
	}
	until, err := parseTime(q.Get("until"), now)
	if err != nil {
		return err
	}
	tail := 0
	if t := q.Get("tail"); t != "" && t != "all" {
		if tail, err = strconv.Atoi(t); err != nil || tail < 0 {
			return errdefs.InvalidParameterf("invalid tail %q", t)
		}
		if tail == 0 {
			tail = -1 // "0": nothing from the past
		}
	}
	follow, timestamps, tty := httpx.BoolValue(r, "follow"), httpx.BoolValue(r, "timestamps"), c.Config.Tty
	ct := controlapi.MediaMultiplexedStream
	if tty {
		ct = controlapi.MediaRawStream
	}
	id := c.ID
	return a.longPoll(w, r, longPollSpec{
		contentType: ct,
		watchKind:   records.KindContainer,
		watchID:     id,
		// New output comes with no notice: poll at least every 2 s.
		maxBackoff: 2 * time.Second,
		step: func(ctx context.Context, cursor string) ([]byte, string, bool, error) {
			// Each step reads at most MaxAnswerBytes, so a large log
			// reaches a shim in several bounded answers.
			opts := providers.LogOptions{After: cursor, Since: since, Until: until, MaxBytes: MaxAnswerBytes}
			if cursor == "" {
				opts.Tail = tail
			}
			var out []byte
			more := false
			if tail >= 0 || cursor != "" {
				page, err := a.provider.Logs(ctx, id, opts)
				more = page.More
				if err != nil && !errdefs.IsNotFound(err) {
					return nil, cursor, false, err
				}
				for _, e := range page.Entries {
					if (e.Stream == 1 && !stdout) || (e.Stream == 2 && !stderr) {
						continue
					}
					out = appendLogEntry(out, e, timestamps, tty)
				}
				if page.Cursor != "" {
					cursor = page.Cursor
				}
			} else {
				// tail=0: start following from the current end.
				page, err := a.provider.Logs(ctx, id, providers.LogOptions{Tail: 1})
				if err == nil && page.Cursor != "" {
					cursor = page.Cursor
				}
				if cursor == "" {
					cursor = "0"
				}
			}
			if more || !follow || len(out) > 0 {
				return out, cursor, !follow && !more, nil
			}
			cur, err := a.st.Container(ctx, id)
			done := err != nil || !cur.State.Running || (!until.IsZero() && !a.st.Now().Before(until))
			return out, cursor, done, nil
		},
	})
}

func appendLogEntry(out []byte, e providers.LogEntry, timestamps, tty bool) []byte {
	data := e.Data
	if timestamps {
		data = append([]byte(e.Time.UTC().Format(time.RFC3339Nano)+" "), data...)
	}
	if tty {
		return append(out, data...)
	}
	var hdr [8]byte
	hdr[0] = byte(e.Stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(data)))
	out = append(out, hdr[:]...)
	return append(out, data...)
}

func (a *API) containerTop(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, ok := a.provider.(providers.Processes)
	if !ok {
		return errdefs.NotImplementedf("top is not supported by the %s provider", a.provider.Name())
	}
	if !c.State.Running {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	procs, err := p.Top(ctx, c.ID)
	if err != nil {
		return err
	}
	resp := container.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}, Processes: [][]string{}}
	for _, pr := range procs {
		// C and TIME (CPU use) are not known per process: left empty.
		resp.Processes = append(resp.Processes, []string{pr.User, strconv.Itoa(pr.PID), strconv.Itoa(pr.PPID), "", pr.Started.Format("15:04"), "?", "", pr.Command})
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

func (a *API) containerStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, ok := a.provider.(providers.Processes)
	if !ok {
		return errdefs.NotImplementedf("stats are not supported by the %s provider", a.provider.Name())
	}
	stream := r.URL.Query().Get("stream") == "" || httpx.BoolValue(r, "stream")
	oneShot := httpx.BoolValue(r, "one-shot")
	id, name := c.ID, c.Name
	var prev container.StatsResponse
	return a.longPoll(w, r, longPollSpec{
		contentType: "application/json",
		interval:    time.Second,
		paced:       true,
		step: func(ctx context.Context, cursor string) ([]byte, string, bool, error) {
			cur, err := a.st.Container(ctx, id)
			if err != nil {
				return nil, cursor, true, err
			}
			s := container.StatsResponse{ID: id, Name: "/" + name, OSType: "linux", Read: a.st.Now()}
			if cur.State.Running {
				st, err := p.Stats(ctx, id)
				if err != nil {
					return nil, cursor, true, err
				}
				s.Read = st.Read
				s.CPUStats.CPUUsage.TotalUsage = st.CPUNanos
				s.CPUStats.SystemUsage = st.SystemCPUNanos
				s.CPUStats.OnlineCPUs = st.OnlineCPUs
				s.MemoryStats.Usage = st.MemoryBytes
				s.MemoryStats.Limit = st.MemoryLimit
				s.PidsStats.Current = st.PIDs
			}
			if cursor != "" {
				_ = json.Unmarshal([]byte(cursor), &prev)
				s.PreRead, s.PreCPUStats = prev.Read, prev.CPUStats
			}
			b, _ := json.Marshal(s)
			next, _ := json.Marshal(container.StatsResponse{Read: s.Read, CPUStats: s.CPUStats})
			done := !stream || oneShot || !cur.State.Running
			return append(b, '\n'), string(next), done, nil
		},
	})
}
