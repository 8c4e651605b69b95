package localshim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/treesync"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// CarryLabel is the label in which the shim records, at create, the binds
// of the runner host it carries for a container (JSON list of
// CarriedBind), so any later request, or a restarted shim, finds them.
const CarryLabel = "io.sockerless.carry"

// carryTicketPath is functions' route for carry tickets (functions.CarryPath).
const carryTicketPath = "/_sockerless/carry/"

// CarriedBind is one bind of a runner-host folder that the shim carries:
// the folder on this host and its destination in the container.
type CarriedBind struct {
	Source      string `json:"src"`
	Destination string `json:"dst"`
	ReadOnly    bool   `json:"ro,omitempty"`
	// Volume, when set, names a named volume carried instead of a host
	// folder: its contents are kept by the shim in a folder of its own
	// (Options.VolumeDir) and Source is empty (see volumes.go).
	Volume string `json:"vol,omitempty"`
}

// carryTimeout bounds one carry (reaching the agent and the transfer).
const carryTimeout = 10 * time.Minute

var (
	carryCreatePath = regexp.MustCompile(`^/containers/create$`)
	carryStartPath  = regexp.MustCompile(`^/containers/([^/]+)/start$`)
	execStartPath   = regexp.MustCompile(`^/exec/([^/]+)/start$`)
	endPath         = regexp.MustCompile(`^/containers/([^/]+)/(stop|kill|restart)$`)
	removePath      = regexp.MustCompile(`^/containers/([^/]+)$`)
	waitRefPath     = regexp.MustCompile(`^/containers/([^/]+)/wait$`)
)

// carryState is what the shim remembers of carried binds: per container
// reference (id or name) its binds, and a lock per container so two
// carries of one container do not interleave. It is a cache: the label
// is the record.
type carryState struct {
	mu    sync.Mutex
	binds map[string]carried
	locks map[string]*sync.Mutex
	// bases holds, per container id and destination, the last state both
	// sides of a bind agreed on, so each carry moves only what changed on
	// the sending side since (treesync.SendTracked). A missing base (a
	// first carry, a restarted shim, a failed carry) makes the next carry
	// a full mirror of the sending side.
	bases map[string]treesync.Manifest
	// watchers keep the host folders of carried binds watched from
	// their first carry until the container is removed (keyed like
	// bases), so a carry looks only at what changed (treesync.Watcher).
	watchOnce sync.Once
	watchers  *treesync.Watchers
	// pulledAtExit holds the containers whose carries were pulled back
	// when they exited (docker wait) and which have not started since:
	// their workloads' agents have gone, so a later stop or removal has
	// nothing to pull (and would wait for an agent that never comes).
	pulledAtExit map[string]bool
	// provider is functions' provider name once known (GET /info), which
	// tells whether named volumes are carried (volumes.go).
	provider string
	// staged holds, per container id, the docker cp uploads to a
	// container that was not running, applied at its start
	// (archive_carried.go).
	staged map[string][]stagedPut
}

type carried struct {
	id    string
	binds []CarriedBind
}

// pullAfterKey marks a hijacked exec start whose carried binds are
// brought back when its process ends, before the client's stream ends.
type pullAfterKey struct{}

// serveCarried handles the requests at which binds are carried, when the
// shim carries binds (Options.CarryBinds): create (rewritten), start and
// exec start (push before), exec end (pull, from bridge), stop, kill,
// restart and forced removal (pull before). It reports whether it
// answered the request itself.
func (s *Shim) serveCarried(w http.ResponseWriter, r *http.Request, p string) bool {
	switch {
	case r.Method == http.MethodPost && carryCreatePath.MatchString(p):
		s.serveCreateCarried(w, r)
		return true
	case r.Method == http.MethodDelete && removePath.MatchString(p) && s.opts.PublishPorts:
		rec := &recorder{header: http.Header{}}
		ref := removePath.FindStringSubmatch(p)[1]
		if s.opts.CarryBinds && boolValue(r, "force") {
			s.pullBeforeEnd(r.Context(), ref)
		}
		s.forward(rec, r)
		if rec.status/100 == 2 {
			s.unpublish(ref)
			s.forgetCarried(ref)
		}
		rec.replay(w)
		return true
	case !s.opts.CarryBinds:
		return false
	case r.Method == http.MethodPost && carryStartPath.MatchString(p):
		ref := carryStartPath.FindStringSubmatch(p)[1]
		c, err := s.carriedOf(r.Context(), ref)
		if err != nil || len(c.binds) == 0 {
			return false
		}
		s.forgetBasesUnlessRunning(r.Context(), c.id)
		s.setPulledAtExit(c.id, false)
		if err := s.carryAll(r.Context(), c, ticket.CarryPush); err == nil || !errdefs.IsConflict(err) {
			if err != nil {
				writeError(w, err, 0)
				return true
			}
			return false
		}
		// The workload's agent exists only once it runs: start, then
		// carry before the client hears that it started.
		rec := &recorder{header: http.Header{}}
		s.forward(rec, r)
		if rec.status/100 == 2 {
			// Staged uploads land while the agent still holds the main
			// process (until the pushes below).
			staged := s.applyStaged(r.Context(), c.id)
			if err := s.carryAll(r.Context(), c, ticket.CarryPush); err != nil {
				s.log.Warn("carrying binds after start failed", "container", c.id, "err", err)
			}
			if staged != nil {
				writeError(w, staged, 0)
				return true
			}
		}
		rec.replay(w)
		return true
	case r.Method == http.MethodPost && execStartPath.MatchString(p):
		c, ok := s.execCarried(r.Context(), execStartPath.FindStringSubmatch(p)[1])
		if !ok {
			return false
		}
		if err := s.carryAll(r.Context(), c, ticket.CarryPush); err != nil {
			writeError(w, err, 0)
			return true
		}
		s.serveHijack(w, r.WithContext(context.WithValue(r.Context(), pullAfterKey{}, c)))
		return true
	case r.Method == http.MethodPost && endPath.MatchString(p),
		r.Method == http.MethodDelete && removePath.MatchString(p) && boolValue(r, "force"):
		m := endPath.FindStringSubmatch(p)
		if m == nil {
			m = removePath.FindStringSubmatch(p)
		}
		s.pullBeforeEnd(r.Context(), m[1])
		if r.Method == http.MethodDelete {
			s.forgetCarried(m[1])
		} else if endsWorkload(r, m[2]) {
			s.pulledAtEnd(r.Context(), m[1], true)
		} else if m[2] == "restart" {
			s.pulledAtEnd(r.Context(), m[1], false)
		}
		return false
	case r.Method == http.MethodDelete && removePath.MatchString(p):
		s.forgetCarried(removePath.FindStringSubmatch(p)[1])
	case r.Method == http.MethodDelete && volumeRemovePath.MatchString(p) && s.opts.VolumeDir != "":
		s.serveVolumeRemove(w, r, volumeRemovePath.FindStringSubmatch(p)[1])
		return true
	}
	return false
}

// pullBeforeEnd brings a container's carried binds back before it stops.
func (s *Shim) pullBeforeEnd(ctx context.Context, ref string) {
	if c, err := s.carriedOf(ctx, ref); err == nil && len(c.binds) > 0 && !s.wasPulledAtExit(c.id) {
		if err := s.carryAll(ctx, c, ticket.CarryPull); err != nil && !errdefs.IsConflict(err) {
			s.log.Warn("carrying binds back before stop failed", "container", c.id, "err", err)
		}
	}
}

// pullAfterWait brings back the carried binds of a container whose wait
// (r) is about to answer that it exited, so a runner that reads the files
// a container action wrote once `docker wait` returns finds them. A
// workload whose files went with it (its agent ended) cannot be pulled;
// that is logged.
func (s *Shim) pullAfterWait(ctx context.Context, r *http.Request) {
	m := waitRefPath.FindStringSubmatch(versionPrefix.ReplaceAllString(r.URL.Path, ""))
	if m == nil {
		return
	}
	c, err := s.carriedOf(ctx, m[1])
	if err != nil || len(c.binds) == 0 || s.wasPulledAtExit(c.id) {
		return
	}
	err = s.carryAll(context.WithoutCancel(ctx), c, ticket.CarryPull)
	s.setPulledAtExit(c.id, true)
	if err != nil {
		s.log.Warn("carrying binds back after the container exited failed", "container", c.id, "err", err)
	}
}

// pullAfterExec brings an exec's container's carried binds back, called
// by bridge when the exec's Exit frame arrives and before the client's
// stream ends, so a runner that reads the files the step wrote as soon as
// `docker exec` returns finds them.
func (s *Shim) pullAfterExec(ctx context.Context) {
	c, ok := ctx.Value(pullAfterKey{}).(carried)
	if !ok {
		return
	}
	if err := s.carryAll(context.WithoutCancel(ctx), c, ticket.CarryPull); err != nil {
		s.log.Warn("carrying binds back after exec failed", "container", c.id, "err", err)
	}
}

// serveCreateCarried rewrites a create's binds of host folders into
// workload-local (tmpfs) mounts, records them in CarryLabel, and sends
// the create on.
func (s *Shim) serveCreateCarried(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
	if err != nil {
		writeError(w, errdefs.InvalidParameterf("reading request body: %v", err), 0)
		return
	}
	nb, binds := body, []CarriedBind(nil)
	if s.opts.CarryBinds {
		if nb, binds, err = RewriteCreate(body); err != nil {
			writeError(w, err, 0)
			return
		}
		if s.carriesVolumes(r.Context()) {
			if nb, err = addCarriedVolumes(nb); err != nil {
				writeError(w, err, 0)
				return
			}
			nb = s.runnableImage(r.Context(), nb)
		}
	}
	var pubs []*published
	if s.opts.PublishPorts {
		nb = s.publishAll(r.Context(), nb)
		if nb, pubs, err = rewritePorts(nb); err != nil {
			writeError(w, err, 0)
			return
		}
	}
	var cfg struct{ WorkingDir string }
	_ = json.Unmarshal(body, &cfg)
	for _, b := range binds {
		dir := b.Source
		// Docker makes a missing working directory at create; inside a
		// bind that is on the host.
		if rel, ok := strings.CutPrefix(path.Clean(cfg.WorkingDir), b.Destination+"/"); ok && !b.ReadOnly {
			dir = path.Join(b.Source, rel)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			writeError(w, errdefs.InvalidParameterf("bind source %s: %v", b.Source, err), 0)
			return
		}
	}
	if name := r.URL.Query().Get("name"); name != "" {
		s.forgetCarried(name)
	}
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(nb)), int64(len(nb))
	if len(pubs) == 0 {
		s.forward(w, r2)
		return
	}
	rec := &recorder{header: http.Header{}}
	s.forward(rec, r2)
	var created struct {
		ID string `json:"Id"`
	}
	if rec.status == http.StatusCreated && json.Unmarshal(rec.body.Bytes(), &created) == nil && created.ID != "" {
		s.publish(created.ID, r.URL.Query().Get("name"), pubs)
	} else {
		for _, p := range pubs {
			p.ln.Close()
		}
	}
	rec.replay(w)
}

// RewriteCreate rewrites a container create body (JSON) so that no bind
// names a folder of this host: each bind of an absolute host path (in
// HostConfig.Binds or a HostConfig.Mounts entry of type bind) whose
// source is a directory, or does not exist yet, becomes a tmpfs mount at
// the same destination (read-only kept) — a workload-local directory
// every provider makes — and is listed in the CarryLabel label. A bind of
// a host file that is not a directory (the runner's docker.sock) cannot be
// carried and is dropped. Unknown fields are kept as they were. It returns
// the new body and the carried binds.
//
// Carrying is bounded (see CarryLimits): a bind whose source is the root
// of this host or lies in a pseudo file system (/proc, /sys, /dev), or
// whose tree holds more than the limits allow, is refused at create with
// a Docker-shaped 400 (`docker run` exits 125) instead of being copied
// without end at start.
func RewriteCreate(body []byte) ([]byte, []CarriedBind, error) {
	return rewriteCreate(body, CarryLimits{Files: MaxCarriedFiles, Bytes: MaxCarriedBytes})
}

// CarryLimits bounds what one carried bind may hold, checked at create:
// every push moves the tree, so a bind far larger than a job's workspace
// is an error the user must see, not a start that never ends.
type CarryLimits struct {
	// Files is the most entries (files, directories, links) a carried
	// tree may hold.
	Files int
	// Bytes is the most bytes of file content a carried tree may hold.
	Bytes int64
}

// MaxCarriedFiles and MaxCarriedBytes are the limits RewriteCreate
// applies: they allow a large CI workspace (a checked-out monorepo with
// its build outputs) and refuse a whole host.
const (
	MaxCarriedFiles       = 200_000
	MaxCarriedBytes int64 = 4 << 30
)

// checkCarriable refuses a bind source that cannot be carried: the root,
// a pseudo file system (links resolved first, so a link to / is the
// root), or a tree over limits. A missing source is carriable (Docker
// creates it).
func checkCarriable(src string, lim CarryLimits) error {
	refuse := func(why string) error {
		return errdefs.InvalidParameterf("invalid mount config for type \"bind\": bind source %s cannot be carried to the container: %s", src, why)
	}
	real, err := filepath.EvalSymlinks(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return refuse(err.Error())
	}
	real = filepath.Clean(real)
	if real == "/" {
		return refuse("it is the root of the runner host")
	}
	// The host's pseudo file systems are never carried: their trees are
	// endless, change as they are read, or describe this host (its
	// processes' environments) to the workload.
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		if real == p || strings.HasPrefix(real, p+"/") {
			return refuse("it is in the pseudo file system " + p)
		}
	}
	files, size := 0, int64(0)
	errOver := errors.New("over the limits")
	err = filepath.WalkDir(real, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		files++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		if files > lim.Files || size > lim.Bytes {
			return errOver
		}
		return nil
	})
	switch {
	case errors.Is(err, errOver):
		return refuse(fmt.Sprintf("it holds more than %d entries or %d bytes, the most a carried bind may hold", lim.Files, lim.Bytes))
	case err != nil:
		return refuse(err.Error())
	}
	return nil
}

func rewriteCreate(body []byte, lim CarryLimits) ([]byte, []CarriedBind, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return body, nil, nil // functions answers the decoding error
	}
	var hc map[string]json.RawMessage
	if raw, ok := top["HostConfig"]; !ok || json.Unmarshal(raw, &hc) != nil || hc == nil {
		return body, nil, nil
	}
	var binds []string
	var mounts []map[string]any
	if raw, ok := hc["Binds"]; ok && json.Unmarshal(raw, &binds) != nil {
		return body, nil, nil
	}
	if raw, ok := hc["Mounts"]; ok && json.Unmarshal(raw, &mounts) != nil {
		return body, nil, nil
	}
	var carriedBinds []CarriedBind
	var tmpfs []map[string]any
	add := func(src, dst string, ro bool) error {
		if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
			return nil // a host file: not carried
		}
		if err := checkCarriable(src, lim); err != nil {
			return err
		}
		carriedBinds = append(carriedBinds, CarriedBind{Source: path.Clean(src), Destination: path.Clean(dst), ReadOnly: ro})
		tmpfs = append(tmpfs, map[string]any{"Type": "tmpfs", "Target": dst, "ReadOnly": ro})
		return nil
	}
	keptBinds := []string{}
	for _, b := range binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[0], "/") || !strings.HasPrefix(parts[1], "/") {
			keptBinds = append(keptBinds, b)
			continue
		}
		ro := false
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				ro = ro || o == "ro"
			}
		}
		if err := add(parts[0], parts[1], ro); err != nil {
			return nil, nil, err
		}
	}
	keptMounts := []map[string]any{}
	for _, m := range mounts {
		src, _ := m["Source"].(string)
		dst, _ := m["Target"].(string)
		if m["Type"] != "bind" || !strings.HasPrefix(src, "/") || !strings.HasPrefix(dst, "/") {
			keptMounts = append(keptMounts, m)
			continue
		}
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errdefs.InvalidParameterf("invalid mount config for type \"bind\": bind source path does not exist: %s", src)
		}
		ro, _ := m["ReadOnly"].(bool)
		if err := add(src, dst, ro); err != nil {
			return nil, nil, err
		}
	}
	keptMounts = append(keptMounts, tmpfs...)
	if len(carriedBinds) == 0 && len(keptBinds) == len(binds) {
		return body, nil, nil
	}
	// Parents first: a nested bind (/__w/_temp inside /__w) is pushed
	// after, and pulled after, the one that holds it, so its own copy wins.
	sort.SliceStable(carriedBinds, func(i, j int) bool { return carriedBinds[i].Destination < carriedBinds[j].Destination })
	var err error
	if hc["Binds"], err = json.Marshal(keptBinds); err != nil {
		return nil, nil, err
	}
	if hc["Mounts"], err = json.Marshal(keptMounts); err != nil {
		return nil, nil, err
	}
	if top["HostConfig"], err = json.Marshal(hc); err != nil {
		return nil, nil, err
	}
	labels := map[string]string{}
	if raw, ok := top["Labels"]; ok {
		_ = json.Unmarshal(raw, &labels)
		if labels == nil {
			labels = map[string]string{}
		}
	}
	lb, _ := json.Marshal(carriedBinds)
	labels[CarryLabel] = string(lb)
	if top["Labels"], err = json.Marshal(labels); err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(top)
	return out, carriedBinds, err
}

// carriedOf finds the carried binds of the container ref (id or name):
// from the cache, or from the container's label.
func (s *Shim) carriedOf(ctx context.Context, ref string) (carried, error) {
	s.carry.mu.Lock()
	c, ok := s.carry.binds[ref]
	s.carry.mu.Unlock()
	if ok {
		return c, nil
	}
	var info struct {
		ID     string `json:"Id"`
		Name   string
		Config struct{ Labels map[string]string }
	}
	if err := s.getJSON(ctx, "/containers/"+url.PathEscape(ref)+"/json", &info); err != nil {
		return carried{}, err
	}
	c = carried{id: info.ID}
	if l := info.Config.Labels[CarryLabel]; l != "" {
		if err := json.Unmarshal([]byte(l), &c.binds); err != nil {
			return carried{}, fmt.Errorf("label %s of %s: %w", CarryLabel, info.ID, err)
		}
	}
	s.carry.mu.Lock()
	if s.carry.binds == nil {
		s.carry.binds = map[string]carried{}
	}
	s.carry.binds[ref], s.carry.binds[info.ID] = c, c
	s.carry.mu.Unlock()
	return c, nil
}

// execCarried finds the carried binds of an exec's container.
func (s *Shim) execCarried(ctx context.Context, execID string) (carried, bool) {
	var info struct{ ContainerID string }
	if err := s.getJSON(ctx, "/exec/"+url.PathEscape(execID)+"/json", &info); err != nil || info.ContainerID == "" {
		return carried{}, false
	}
	c, err := s.carriedOf(ctx, info.ContainerID)
	return c, err == nil && len(c.binds) > 0
}

func (s *Shim) forgetCarried(ref string) {
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	c, ok := s.carry.binds[ref]
	if !ok {
		return
	}
	for k, v := range s.carry.binds {
		if v.id == c.id {
			delete(s.carry.binds, k)
		}
	}
	delete(s.carry.locks, c.id)
	delete(s.carry.pulledAtExit, c.id)
	delete(s.carry.staged, c.id)
	for k := range s.carry.bases {
		if strings.HasPrefix(k, c.id+"\x00") {
			delete(s.carry.bases, k)
		}
	}
	s.carryWatchers().Drop(func(k string) bool { return strings.HasPrefix(k, c.id+"\x00") })
}

// maxCarryWatchers bounds the host folders watched at once (each holds an
// inotify instance, of which a user has 128 by default); more are walked
// at each carry.
const maxCarryWatchers = 32

func (s *Shim) carryWatchers() *treesync.Watchers {
	s.carry.watchOnce.Do(func() { s.carry.watchers = treesync.NewWatchers(maxCarryWatchers) })
	return s.carry.watchers
}

// base takes the agreed state of container id's bind at dst out of the
// cache (nil if none); the carry puts it back when it succeeded.
func (s *Shim) takeBase(id, dst string) treesync.Manifest {
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	b := s.carry.bases[id+"\x00"+dst]
	delete(s.carry.bases, id+"\x00"+dst)
	return b
}

func (s *Shim) putBase(id, dst string, m treesync.Manifest) {
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	if s.carry.bases == nil {
		s.carry.bases = map[string]treesync.Manifest{}
	}
	s.carry.bases[id+"\x00"+dst] = m
}

func (s *Shim) lockCarry(id string) func() {
	s.carry.mu.Lock()
	if s.carry.locks == nil {
		s.carry.locks = map[string]*sync.Mutex{}
	}
	l, ok := s.carry.locks[id]
	if !ok {
		l = &sync.Mutex{}
		s.carry.locks[id] = l
	}
	s.carry.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// getJSON GETs a functions path and decodes its JSON answer; an error
// answer becomes an error of its status.
func (s *Shim) getJSON(ctx context.Context, p string, v any) error {
	req, err := s.functionsRequest(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return errdefs.Unavailable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return answerError(resp)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxBufferedBody)).Decode(v)
}

func (s *Shim) functionsRequest(ctx context.Context, method, p string, q url.Values) (*http.Request, error) {
	u := *s.base
	u.Path = strings.TrimSuffix(s.base.Path, "/") + p
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set(controlapi.HeaderShim, "1")
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	tag(req)
	return req, nil
}

// answerError turns a functions error answer into an error with its
// status and Docker's message.
func answerError(resp *http.Response) error {
	var m struct{ Message string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
	if m.Message == "" {
		m.Message = resp.Status
	}
	return statusError(resp.StatusCode, errors.New(m.Message))
}

// carryAll carries every bind of c in direction op (read-only binds are
// not pulled), parents before nested binds.
func (s *Shim) carryAll(ctx context.Context, c carried, op string) error {
	defer s.lockCarry(c.id)()
	ctx, cancel := context.WithTimeout(ctx, carryTimeout)
	defer cancel()
	for _, b := range c.binds {
		if op == ticket.CarryPull && b.ReadOnly {
			continue
		}
		began := time.Now()
		st, err := s.carryOne(ctx, c.id, b, op)
		if err == nil {
			s.log.Debug("carried", "container", c.id, "dir", b.Destination, "volume", b.Volume, "op", op,
				"files", st.Files, "dirs", st.Dirs, "deleted", st.Deleted, "content", st.Content, "wire", st.Wire,
				"took", time.Since(began).Round(time.Microsecond))
		}
		if err != nil {
			return fmt.Errorf("carrying %s %s %s: %w", b.Source, map[string]string{ticket.CarryPush: "to", ticket.CarryPull: "from"}[op], b.Destination, err)
		}
	}
	return nil
}

// carryOne asks functions for a carry ticket and runs the carry with the
// workload's agent over the relay (see agent.serveCarry).
func (s *Shim) carryOne(ctx context.Context, id string, b CarriedBind, op string) (treesync.Stats, error) {
	if b.Volume != "" {
		// Containers sharing the volume carry into one folder: one at a
		// time, and the ticket (short-lived) only once it is this one's turn.
		defer s.lockCarry(volumeLockKey(b.Volume))()
	}
	req, err := s.functionsRequest(ctx, http.MethodPost, carryTicketPath+url.PathEscape(id), url.Values{"dir": {b.Destination}, "op": {op}})
	if err != nil {
		return treesync.Stats{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return treesync.Stats{}, errdefs.Unavailable(err)
	}
	var t controlapi.StreamTicket
	if resp.StatusCode != http.StatusOK {
		err = answerError(resp)
	} else {
		err = json.NewDecoder(resp.Body).Decode(&t)
	}
	resp.Body.Close()
	if err != nil {
		return treesync.Stats{}, err
	}
	src := b.Source
	if b.Volume != "" {
		if src, err = s.volumeDir(b.Volume); err != nil {
			return treesync.Stats{}, err
		}
	}
	root, err := os.OpenRoot(src)
	if err != nil {
		return treesync.Stats{}, errdefs.InvalidParameter(err)
	}
	wt, release, err := s.carryWatchers().Acquire(id+"\x00"+b.Destination, root)
	if err != nil {
		return treesync.Stats{}, err
	}
	defer release()
	defer func() {
		ws := wt.Stats()
		s.log.Debug("carry watcher", "container", id, "dir", b.Destination, "full_walks", ws.Full, "incremental", ws.Incremental,
			"fallbacks", ws.Fallbacks, "reason", ws.Reason, "unwatched", ws.Unwatched)
	}()
	root = wt.Root()
	remote, err := s.opts.Dialer.Dial(ctx, t.RelayURL, t.Token)
	if err != nil {
		return treesync.Stats{}, errdefs.Unavailable(fmt.Errorf("cannot reach the container's agent: %w", err))
	}
	defer remote.Close()
	stop := context.AfterFunc(ctx, func() { _ = remote.Close() })
	defer stop()
	stdin := frame.Writer{W: remote, Type: frame.Stdin}
	base := s.takeBase(id, b.Destination)
	if op == ticket.CarryPush {
		recv, err := treesync.ReadManifest(frameStream(remote, frame.Ready))
		if err != nil {
			return treesync.Stats{}, fmt.Errorf("the agent's manifest: %w", err)
		}
		if base == nil {
			base = maps.Clone(recv)
		}
		st, err := treesync.SendWatched(ctx, stdin, wt, recv, base, base)
		if err != nil {
			return st, err
		}
		if err := frame.Write(remote, frame.CloseStdin, nil); err != nil {
			return st, err
		}
		res, err := readResult(remote)
		if err != nil {
			return st, err
		}
		if res.Status != http.StatusOK {
			return st, statusError(res.Status, errors.New(res.Message))
		}
		s.putBase(id, b.Destination, base)
		return st, nil
	}
	recv, err := wt.Scan()
	if err != nil {
		return treesync.Stats{}, err
	}
	if base == nil {
		base = maps.Clone(recv)
	}
	if err := treesync.WriteManifest(stdin, base); err != nil {
		return treesync.Stats{}, err
	}
	if err := treesync.WriteManifest(stdin, recv); err != nil {
		return treesync.Stats{}, err
	}
	if err := frame.Write(remote, frame.CloseStdin, nil); err != nil {
		return treesync.Stats{}, err
	}
	st, err := treesync.ApplyTracked(ctx, frameStream(remote, frame.Exit), root, base)
	if err == nil {
		s.putBase(id, b.Destination, base)
	}
	return st, err
}

// frameStream reads the Stdout frames of remote as a byte stream that
// ends (io.EOF) at the first frame of type end; an Error frame or a
// broken stream is the stream's error. The reader must be read to its
// end before remote is read again.
func frameStream(remote io.Reader, end frame.Type) io.Reader {
	return &framedReader{remote: remote, end: end}
}

type framedReader struct {
	remote io.Reader
	end    frame.Type
	buf    []byte
	err    error
}

func (f *framedReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		fr, err := frame.Read(f.remote)
		switch {
		case err != nil:
			f.err = fmt.Errorf("the stream to the agent broke: %w", err)
		case fr.Type == f.end:
			f.err = io.EOF
		case fr.Type == frame.Error:
			f.err = errors.New(string(fr.Payload))
		case fr.Type == frame.Stdout:
			f.buf = fr.Payload
		case fr.Type == frame.Exit:
			f.err = errors.New("the agent ended the session early")
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// recorder keeps a small answer (a start's) to send after more work.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) replay(w http.ResponseWriter) {
	copyHeader(w.Header(), r.header)
	if r.status == 0 {
		r.status = http.StatusOK
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}

// statusError classifies err by an HTTP status functions or an agent
// answered, so it reaches the client with the same status.
func statusError(code int, err error) error {
	switch code {
	case http.StatusBadRequest:
		return errdefs.InvalidParameter(err)
	case http.StatusNotFound:
		return errdefs.NotFound(err)
	case http.StatusConflict:
		return errdefs.Conflict(err)
	case http.StatusUnauthorized:
		return errdefs.Unauthorized(err)
	case http.StatusForbidden:
		return errdefs.Forbidden(err)
	case http.StatusNotImplemented:
		return errdefs.NotImplemented(err)
	case http.StatusServiceUnavailable:
		return errdefs.Unavailable(err)
	case http.StatusRequestEntityTooLarge:
		return errdefs.RequestTooLarge(err)
	}
	return err
}
