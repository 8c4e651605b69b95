// Package localshim is the DOCKER_HOST listener on the runner host. It
// forwards plain Docker API requests to the functions tier, and owns what
// a serverless function cannot: hijacked attach/exec connections, which it
// bridges to the relay with a stream ticket, and long waits, which it
// turns into a sequence of bounded polls behind one client connection.
package localshim

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/frame"
)

// Options configures a Shim.
type Options struct {
	// Transport reaches functions: HandlerTransport in embedded mode, an
	// HTTP transport in cloud mode. Required.
	Transport http.RoundTripper
	// BaseURL is functions' address ("http://functions" is fine for an
	// in-process transport).
	BaseURL string
	// Token, when set, is sent as a bearer token.
	Token string
	// Dialer opens relay streams for stream tickets. Required.
	Dialer relay.Dialer
	// PollWindow is the window asked for in each bounded poll (default
	// 20 s).
	PollWindow time.Duration
	// Backoff is how long to wait before poll number attempt (from 0) of
	// a long wait after answers that found nothing, at most max (which
	// functions names in controlapi.HeaderBackoff). Default: 100 ms
	// doubling up to max. A notice that the container changed ends the
	// wait at once.
	Backoff func(attempt int, max time.Duration) time.Duration
	// After is the timer the back-off waits on (default time.After);
	// tests drive time with it.
	After func(time.Duration) <-chan time.Time
	// AttachTimeout bounds waiting for a workload's agent (default 5 min:
	// cloud workloads take 5–60 s to start).
	AttachTimeout time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// CarryBinds makes the shim carry binds of this host's folders to and
	// from the workloads (split and cloud modes, where functions runs
	// elsewhere): see carry.go.
	CarryBinds bool
	// PublishPorts makes the shim listen on the host ports of `-p` and
	// carry each connection through the relay to the workload's port
	// (split and cloud modes): see ports.go.
	PublishPorts bool
	// VolumeDir, when set with CarryBinds, is the folder in which the
	// shim keeps the contents of named volumes it carries to and from
	// workloads whose provider gives each workload volumes of its own
	// (volumes.go); empty carries no volumes.
	VolumeDir string
}

// Shim serves the Docker API on the runner host. Safe for concurrent use.
type Shim struct {
	opts   Options
	base   *url.URL
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	sessions map[string][]*session // exec or container id -> live streams

	carry        carryState
	removalWaits removalWaits
	ports        portState
}

// New returns a shim.
func New(opts Options) (*Shim, error) {
	if opts.Transport == nil || opts.Dialer == nil {
		return nil, fmt.Errorf("localshim: Transport and Dialer are required")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "http://functions"
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("localshim: base URL: %w", err)
	}
	if opts.PollWindow <= 0 {
		opts.PollWindow = 20 * time.Second
	}
	if opts.AttachTimeout <= 0 {
		opts.AttachTimeout = 5 * time.Minute
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.After == nil {
		opts.After = time.After
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shim{opts: opts, base: base, client: &http.Client{Transport: opts.Transport}, log: log, sessions: map[string][]*session{}}, nil
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)
	hijackPath    = regexp.MustCompile(`^/(containers/[^/]+/attach|exec/[^/]+/start)$`)
	waitPath      = regexp.MustCompile(`^/containers/[^/]+/wait$`)
	logsPath      = regexp.MustCompile(`^/containers/[^/]+/logs$`)
	statsPath     = regexp.MustCompile(`^/containers/[^/]+/stats$`)
	resizePath    = regexp.MustCompile(`^/(containers|exec)/([^/]+)/resize$`)
	stopPath      = regexp.MustCompile(`^/containers/[^/]+/(stop|restart)$`)
)

// ServeHTTP routes one client request.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := versionPrefix.ReplaceAllString(r.URL.Path, "")
	tag(r)
	if m := carryStartPath.FindStringSubmatch(p); m != nil && r.Method == http.MethodPost {
		s.serveStart(w, r, m[1], s.serveRouted)
		return
	}
	s.serveRouted(w, r)
}

// serveRouted serves client request r by its path.
func (s *Shim) serveRouted(w http.ResponseWriter, r *http.Request) {
	p := versionPrefix.ReplaceAllString(r.URL.Path, "")
	if (s.opts.CarryBinds || s.opts.PublishPorts) && s.serveCarried(w, r, p) {
		return
	}
	switch {
	case r.Method == http.MethodPost && hijackPath.MatchString(p):
		s.serveHijack(w, r)
	case r.Method == http.MethodPost && waitPath.MatchString(p),
		r.Method == http.MethodGet && p == "/events",
		// Logs go through bounded polls followed or not: a large log then
		// arrives in answers each within a platform's response limit.
		r.Method == http.MethodGet && logsPath.MatchString(p),
		r.Method == http.MethodGet && statsPath.MatchString(p) && (r.URL.Query().Get("stream") == "" || boolValue(r, "stream")):
		s.serveLongWait(w, r)
	case r.Method == http.MethodPost && stopPath.MatchString(p):
		s.serveDeferred(w, r)
	case isArchive(r, p):
		s.serveArchive(w, r)
	case isBlobBody(r, p):
		s.serveBlobBody(w, r)
	case r.Method == http.MethodPost && resizePath.MatchString(p):
		m := resizePath.FindStringSubmatch(p)
		s.resizeSessions(r.Context(), m[2], r)
		s.forward(w, r)
	default:
		s.forward(w, r)
	}
}

// outgoing builds the request to functions for client request r.
func (s *Shim) outgoing(ctx context.Context, r *http.Request, body io.Reader) (*http.Request, error) {
	u := *s.base
	u.Path = strings.TrimSuffix(s.base.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Upgrade", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Authorization":
			continue
		}
		out.Header[k] = vs
	}
	out.ContentLength = r.ContentLength
	if s.opts.Token != "" {
		out.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	return out, nil
}

func (s *Shim) fail(w http.ResponseWriter, err error) {
	s.log.Warn("functions unreachable", "err", err)
	writeError(w, errdefs.Unavailable(fmt.Errorf("sockerless control plane unreachable: %w", err)), 0)
}

// forward copies a plain request to functions and the answer back,
// flushing as the body streams (image pulls, non-follow logs).
func (s *Shim) forward(w http.ResponseWriter, r *http.Request) {
	safe := retrySafe(r, versionPrefix.ReplaceAllString(r.URL.Path, ""))
	body := r.Body
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	resp, err := s.do(r.Context(), safe, body, func(body io.Reader) (*http.Request, error) {
		out, err := s.outgoing(r.Context(), r, body)
		if err == nil && body == http.NoBody {
			out.Body, out.ContentLength = http.NoBody, 0
		}
		return out, err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	defer resp.Body.Close()
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	copyFlushing(w, resp.Body)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		switch k {
		case controlapi.HeaderContinue, controlapi.HeaderBackoff, controlapi.HeaderPollAfter, controlapi.HeaderWatch,
			"Content-Length", "Transfer-Encoding", "Connection":
			// The shim's own contract with functions (a watch ticket is a
			// credential) stays between them.
			continue
		}
		dst[k] = vs
	}
}

func copyFlushing(w http.ResponseWriter, r io.Reader) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// serveLongWait answers one client connection from a series of bounded
// polls: the first (window 0) validates and fixes the status and headers,
// which are sent at once; later ones append to the body until functions
// stops saying HeaderContinue.
func (s *Shim) serveLongWait(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cursor, window := "", "0"
	var notices <-chan struct{}
	attempt := 0
	rc := http.NewResponseController(w)
	// A wait for the container's removal also ends when its start is
	// refused for want of the store (removalwait.go).
	var startFailed <-chan string
	pollCtx := ctx
	if m := waitRefPath.FindStringSubmatch(versionPrefix.ReplaceAllString(r.URL.Path, "")); m != nil &&
		container.WaitCondition(r.URL.Query().Get("condition")) == container.WaitConditionRemoved {
		ch, done := s.removalWaits.add(m[1])
		defer done()
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithCancel(ctx)
		defer cancel()
		failed := make(chan string, 1)
		startFailed = failed
		go func() {
			select {
			case msg := <-ch:
				failed <- msg
				cancel()
			case <-pollCtx.Done():
			}
		}()
	}
	endRefused := func(msg string) {
		s.log.Warn("ending a removal wait: the container's start was refused", "path", r.URL.Path, "err", msg)
		_, _ = w.Write(removalWaitEnd(msg))
	}
	for first := true; ; first = false {
		resp, err := s.do(pollCtx, true, nil, func(io.Reader) (*http.Request, error) {
			return s.poll(pollCtx, r, window, cursor)
		})
		if err != nil {
			select {
			case msg := <-startFailed:
				if !first {
					endRefused(msg)
					return
				}
			default:
			}
			if first {
				s.fail(w, err)
			} else if ctx.Err() == nil {
				s.log.Warn("long wait poll failed", "path", r.URL.Path, "err", err)
			}
			return
		}
		next, more := resp.Header[controlapi.HeaderContinue]
		if notices == nil && more {
			// Subscribed before the client sees the headers: the CLI
			// starts the container as soon as it has them, and a notice
			// sent before the subscription would be lost.
			notices = s.watch(ctx, resp.Header.Get(controlapi.HeaderWatch))
		}
		if first {
			copyHeader(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			_ = rc.Flush()
		}
		if resp.StatusCode == http.StatusServiceUnavailable && !first {
			// The store (or functions) is briefly unreachable: the client
			// has its answer's headers and keeps waiting, so ask again
			// with the same cursor, backing off.
			resp.Body.Close()
			s.log.Warn("long wait poll refused; retrying", "path", r.URL.Path, "status", resp.Status)
			select {
			case <-ctx.Done():
				return
			case msg := <-startFailed:
				endRefused(msg)
				return
			case <-s.opts.After(s.opts.Backoff(attempt, 15*time.Second)):
				attempt++
			}
			continue
		}
		if resp.StatusCode >= 300 && !first {
			resp.Body.Close()
			return
		}
		if !more && s.opts.CarryBinds && resp.StatusCode < 300 {
			// A wait's final answer: bring the container's carried binds
			// back before the client hears it exited.
			s.pullAfterWait(ctx, r)
		}
		copyFlushing(w, resp.Body)
		resp.Body.Close()
		if !more || resp.StatusCode >= 300 || ctx.Err() != nil {
			return
		}
		cursor = next[0]
		window = strconv.FormatInt(s.opts.PollWindow.Milliseconds(), 10)
		if after, err := strconv.ParseInt(resp.Header.Get(controlapi.HeaderPollAfter), 10, 64); err == nil && after > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.opts.After(time.Duration(after) * time.Millisecond):
			}
			continue
		}
		max, err := strconv.ParseInt(resp.Header.Get(controlapi.HeaderBackoff), 10, 64)
		if err != nil || max <= 0 {
			// Functions waited, or has more ready: poll again at once.
			attempt = 0
			continue
		}
		select {
		case <-ctx.Done():
			return
		case msg := <-startFailed:
			endRefused(msg)
			return
		case <-notices:
			attempt = 0
		case <-s.opts.After(s.opts.Backoff(attempt, time.Duration(max)*time.Millisecond)):
			attempt++
		}
	}
}

// DefaultBackoff waits 100 ms before the first poll that follows one
// that found nothing, doubling up to max: a 10-minute wait with a max of
// 15 s costs about 50 polls, each one store read.
func DefaultBackoff(attempt int, max time.Duration) time.Duration {
	return min(100*time.Millisecond<<min(attempt, 20), max)
}

// watch subscribes to the notices a long wait's answer offers
// (controlapi.HeaderWatch: relay URL and watch ticket), when the relay
// dialer can; nil (never ready) otherwise.
func (s *Shim) watch(ctx context.Context, offer string) <-chan struct{} {
	wt, ok := s.opts.Dialer.(relay.Watcher)
	relayURL, tok, found := strings.Cut(offer, " ")
	if !ok || !found {
		return nil
	}
	ch, err := wt.Watch(ctx, relayURL, tok)
	if err != nil {
		s.log.Debug("cannot watch for notices; polling", "err", err)
		return nil
	}
	return ch
}

// poll builds one bounded poll of client request r: no body, the window
// in milliseconds, and the cursor of the previous answer if any.
func (s *Shim) poll(ctx context.Context, r *http.Request, window, cursor string) (*http.Request, error) {
	out, err := s.outgoing(ctx, r, http.NoBody)
	if err != nil {
		return nil, err
	}
	out.ContentLength = 0
	out.Header.Set(controlapi.HeaderPoll, window)
	if cursor != "" {
		out.Header.Set(controlapi.HeaderCursor, cursor)
	}
	return out, nil
}

// serveDeferred answers a request whose work may outlast one poll window
// (stop and restart with a long grace period) from a series of bounded
// polls, sending the client only the final answer, as Docker does.
func (s *Shim) serveDeferred(w http.ResponseWriter, r *http.Request) {
	// The work goes on when the client leaves (moby does not cancel a
	// stop or a restart with its request): a restart left half-done would
	// leave the container stopped.
	ctx := context.WithoutCancel(r.Context())
	cursor := ""
	window := strconv.FormatInt(s.opts.PollWindow.Milliseconds(), 10)
	for {
		out, err := s.poll(ctx, r, window, cursor)
		if err != nil {
			s.fail(w, err)
			return
		}
		resp, err := s.client.Do(out)
		if err != nil {
			s.fail(w, err)
			return
		}
		next, more := resp.Header[controlapi.HeaderContinue]
		if !more {
			copyHeader(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			copyFlushing(w, resp.Body)
			resp.Body.Close()
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cursor = next[0]
	}
}

// session is a live bridged stream, kept so resize requests reach it.
type session struct {
	mu   sync.Mutex
	conn io.Writer
}

func (se *session) send(t frame.Type, payload []byte) error {
	se.mu.Lock()
	defer se.mu.Unlock()
	return frame.Write(se.conn, t, payload)
}

func (s *Shim) addSession(id string, se *session) func() {
	s.mu.Lock()
	s.sessions[id] = append(s.sessions[id], se)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		list := s.sessions[id]
		for i, x := range list {
			if x == se {
				s.sessions[id] = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(s.sessions[id]) == 0 {
			delete(s.sessions, id)
		}
	}
}

func (s *Shim) resizeSessions(ctx context.Context, id string, r *http.Request) {
	h, err1 := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	wd, err2 := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return
	}
	s.mu.Lock()
	var targets []*session
	for key, list := range s.sessions {
		if key == id || strings.HasPrefix(key, id) {
			targets = append(targets, list...)
		}
	}
	s.mu.Unlock()
	b, _ := json.Marshal(frame.Size{Height: uint(h), Width: uint(wd)})
	for _, se := range targets {
		_ = se.send(frame.Resize, b)
	}
}

// serveHijack asks functions for a stream ticket and, when it gets one,
// upgrades the client connection and bridges it to the relay. Any other
// answer (errors, a detached exec's 200) is passed through unchanged.
func (s *Shim) serveHijack(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
	if err != nil {
		writeError(w, errdefs.InvalidParameterf("reading request body: %v", err), 0)
		return
	}
	out, err := s.outgoing(r.Context(), r, strings.NewReader(string(body)))
	if err != nil {
		s.fail(w, err)
		return
	}
	out.ContentLength = int64(len(body))
	out.Header.Set(controlapi.HeaderShim, "1")
	resp, err := s.client.Do(out)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), controlapi.MediaTicket) {
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		copyFlushing(w, resp.Body)
		return
	}
	var t controlapi.StreamTicket
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		writeError(w, fmt.Errorf("invalid stream ticket from functions: %w", err), http.StatusBadGateway)
		return
	}
	var consoleSize *[2]uint
	if t.Kind == "exec" {
		var start struct{ ConsoleSize *[2]uint }
		_ = json.Unmarshal(body, &start)
		consoleSize = start.ConsoleSize
	}
	var remote io.ReadWriteCloser
	var early []frame.Frame
	if t.WaitReady {
		// The workload's agent exists already: answer the upgrade once
		// the attach session is in place, so the client's start that
		// follows cannot outrun it. Failures are still plain errors.
		remote, early, err = s.dialReady(r.Context(), t)
		if err != nil {
			writeError(w, err, 0)
			return
		}
		defer remote.Close()
	}
	var unstarted error
	if remote == nil && t.Kind == "exec" {
		// An exec's container runs, so its agent is there: the stream
		// is dialled before the upgrade. One that cannot be reached
		// takes Docker's path for an exec that could not start: the
		// exec ends with 126 (recorded before the client, at the end of
		// the stream, inspects it) and the error is the stream's text.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.opts.AttachTimeout)
		remote, unstarted = s.opts.Dialer.Dial(dctx, t.RelayURL, t.Token)
		cancel()
		if unstarted != nil {
			remote = nil
			s.execUnstarted(r, t.ID)
		} else {
			defer remote.Close()
		}
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, fmt.Errorf("cannot hijack the connection: %w", err), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	ct := controlapi.MediaMultiplexedStream
	if t.Tty {
		ct = controlapi.MediaRawStream
	}
	status := "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ct + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	if r.Header.Get("Upgrade") == "" {
		// Clients that do not ask to upgrade get the stream in a 200.
		status = "HTTP/1.1 200 OK\r\nContent-Type: " + ct + "\r\n\r\n"
	}
	if _, err := buf.WriteString(status); err != nil {
		return
	}
	if err := buf.Flush(); err != nil {
		return
	}
	if unstarted != nil {
		_ = writeDocker(conn, t.Tty, 1, []byte(fmt.Sprintf("sockerless: cannot reach the container's agent: %v\r\n", unstarted)))
		s.closeClient(conn)
		return
	}
	s.bridge(r.Context(), conn, buf.Reader, t, consoleSize, remote, early)
}

// execUnstarted tells functions that exec id's stream never connected,
// so its record ends with a code instead of staying Running.
func (s *Shim) execUnstarted(r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	u := *s.base
	u.Path = strings.TrimSuffix(s.base.Path, "/") + strings.Replace(controlapi.PathExecUnstarted, "{id}", url.PathEscape(id), 1)
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return
	}
	req.Header.Set(controlapi.HeaderShim, "1")
	if rid := r.Header.Get(controlapi.HeaderRequestID); rid != "" {
		req.Header.Set(controlapi.HeaderRequestID, rid)
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Warn("cannot report an unstarted exec", "exec", id, "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.log.Warn("cannot report an unstarted exec", "exec", id, "status", resp.StatusCode)
	}
}

// dialReady dials the relay and reads frames until the workload's Ready
// frame; frames before it (none, normally) are returned to be delivered
// first. An Error frame before Ready becomes the request's error.
func (s *Shim) dialReady(ctx context.Context, t controlapi.StreamTicket) (io.ReadWriteCloser, []frame.Frame, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AttachTimeout)
	defer cancel()
	remote, err := s.opts.Dialer.Dial(ctx, t.RelayURL, t.Token)
	if err != nil {
		return nil, nil, errdefs.Unavailable(fmt.Errorf("cannot reach the container's agent: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { _ = remote.Close() })
	defer stop()
	var early []frame.Frame
	for {
		f, err := frame.Read(remote)
		if err != nil {
			_ = remote.Close()
			return nil, nil, errdefs.Unavailable(fmt.Errorf("the container's agent did not take the attach session: %w", err))
		}
		switch f.Type {
		case frame.Ready:
			return remote, early, nil
		case frame.Error:
			_ = remote.Close()
			return nil, nil, errdefs.Conflictf("%s", f.Payload)
		}
		early = append(early, f)
		if f.Type == frame.Exit {
			return remote, early, nil
		}
	}
}

// bridge copies client stdin into Stdin frames (buffered in the pipe to
// the relay until the remote side reads it), and output frames back in
// Docker's framing, until the Exit frame.
func (s *Shim) bridge(ctx context.Context, client net.Conn, clientIn *bufio.Reader, t controlapi.StreamTicket, consoleSize *[2]uint, remote io.ReadWriteCloser, early []frame.Frame) {
	if remote == nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AttachTimeout)
		var err error
		remote, err = s.opts.Dialer.Dial(dctx, t.RelayURL, t.Token)
		cancel()
		if err != nil {
			s.writeStreamError(client, t.Tty, fmt.Sprintf("sockerless: cannot reach the container's agent: %v\n", err))
			return
		}
		defer remote.Close()
	}
	se := &session{conn: remote}
	defer s.addSession(t.ID, se)()
	if consoleSize != nil && consoleSize[0] > 0 {
		b, _ := json.Marshal(frame.Size{Height: consoleSize[0], Width: consoleSize[1]})
		_ = se.send(frame.Resize, b)
	}

	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := clientIn.Read(buf)
			if n > 0 {
				if se.send(frame.Stdin, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				// EOF is the client's half-close: close stdin, keep
				// reading output.
				_ = se.send(frame.CloseStdin, nil)
				return
			}
		}
	}()

	fr := frame.Reader{R: remote} // each payload is written out before the next read
	for {
		var f frame.Frame
		if len(early) > 0 {
			f, early = early[0], early[1:]
		} else {
			var err error
			if f, err = fr.Next(); err != nil {
				s.streamLost(client, t.Tty, err)
				return
			}
		}
		switch f.Type {
		case frame.Stdout, frame.Stderr:
			if err := writeDocker(client, t.Tty, byte(f.Type), f.Payload); err != nil {
				return
			}
		case frame.Error:
			s.writeStreamError(client, t.Tty, "sockerless: "+string(f.Payload)+"\n")
			return
		case frame.Exit:
			s.pullAfterExec(ctx)
			s.closeClient(client)
			return
		}
	}
}

func (s *Shim) closeClient(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (s *Shim) writeStreamError(c net.Conn, tty bool, msg string) {
	_ = writeDocker(c, tty, 2, []byte(msg))
	s.closeClient(c)
}

// writeDocker writes p in Docker's stream framing: raw for a TTY, else an
// 8-byte header then the payload, in one writev on a socket (no copy).
func writeDocker(w io.Writer, tty bool, stream byte, p []byte) error {
	if tty {
		_, err := w.Write(p)
		return err
	}
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:8], uint32(len(p)))
	bufs := net.Buffers{hdr[:], p}
	_, err := bufs.WriteTo(w)
	return err
}
