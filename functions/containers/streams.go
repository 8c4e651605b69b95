package containers

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

func (a *Router) postContainersAttach(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.Removing {
		return errdefs.Conflictf("container %s is being removed", c.ID)
	}
	if c.State.Restarting {
		// Docker words this one with the name the request used.
		return errdefs.Conflictf("container %s is restarting, wait until the container is running", r.PathValue("id"))
	}
	if r.Header.Get(controlapi.HeaderShim) == "" {
		return core.ErrNeedsShim
	}
	if c, err = a.b.ReconcileWorkload(ctx, c); err != nil {
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
	a.b.Event(ctx, events.ContainerEventType, events.ActionAttach, c.ID, core.ContainerAttrs(c))
	return a.b.IssueTicket(w, g, c.Config.Tty, c.ID)
}

func (a *Router) postContainersResize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := core.ResizeParams(r)
	if err != nil {
		return err
	}
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Restarting {
		return records.ErrRestarting(c.ID)
	}
	if !c.State.Running {
		return errdefs.Conflictf("cannot resize container %s: container is not running", c.ID)
	}
	if rz, ok := providers.As[providers.Resizer](a.provider); ok {
		if err := rz.Resize(r.Context(), c.ID, h, wd); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *Router) getContainersLogs(w http.ResponseWriter, r *http.Request) error {
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
	since, err := core.ParseTime(q.Get("since"), now)
	if err != nil {
		return err
	}
	until, err := core.ParseTime(q.Get("until"), now)
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
	var details []byte
	if httpx.BoolValue(r, "details") {
		details = append(logAttrs(c), ' ')
	}
	ct := controlapi.MediaMultiplexedStream
	if tty {
		ct = controlapi.MediaRawStream
	}
	id := c.ID
	return a.b.LongPoll(w, r, core.LongPollSpec{
		ContentType: ct,
		WatchKind:   records.KindContainer,
		WatchID:     id,
		// New output comes with no notice: poll at least every 2 s.
		MaxBackoff: 2 * time.Second,
		Step: func(ctx context.Context, cursor string) ([]byte, string, bool, error) {
			// Each step reads at most MaxAnswerBytes, so a large log
			// reaches a shim in several bounded answers.
			opts := providers.LogOptions{After: cursor, Since: since, Until: until, MaxBytes: core.MaxAnswerBytes}
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
					if details != nil {
						e.Data = append(append([]byte(nil), details...), e.Data...)
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

// logAttrs is what docker logs --details puts before each line: the
// log attributes the container's log options name (labels=, env=), as
// moby writes them: key=value, sorted by key, query-escaped, joined by
// commas; empty when the options name none.
func logAttrs(c *records.Container) []byte {
	attrs := map[string]string{}
	opts := c.HostConfig.LogConfig.Config
	for _, k := range strings.Split(opts["labels"], ",") {
		if v, ok := c.Config.Labels[k]; ok && k != "" {
			attrs[k] = v
		}
	}
	for _, k := range strings.Split(opts["env"], ",") {
		for _, kv := range c.Config.Env {
			if ek, v, ok := strings.Cut(kv, "="); ok && ek == k && k != "" {
				attrs[k] = v
			}
		}
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, url.QueryEscape(k)+"="+url.QueryEscape(attrs[k])...)
	}
	return b
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

func (a *Router) getContainersTop(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Restarting {
		return records.ErrRestarting(c.ID)
	}
	p, ok := providers.As[providers.Processes](a.provider)
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

func (a *Router) getContainersStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, ok := providers.As[providers.Processes](a.provider)
	if !ok {
		return errdefs.NotImplementedf("stats are not supported by the %s provider", a.provider.Name())
	}
	stream := r.URL.Query().Get("stream") == "" || httpx.BoolValue(r, "stream")
	oneShot := httpx.BoolValue(r, "one-shot")
	id, name := c.ID, c.Name
	var prev container.StatsResponse
	return a.b.LongPoll(w, r, core.LongPollSpec{
		ContentType: "application/json",
		Interval:    time.Second,
		Paced:       true,
		Step: func(ctx context.Context, cursor string) ([]byte, string, bool, error) {
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
				s.CPUStats.ThrottlingData = container.ThrottlingData{Periods: st.ThrottlePeriods,
					ThrottledPeriods: st.ThrottledPeriods, ThrottledTime: st.ThrottledNanos}
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
