package localshim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// docker cp to or from a container that is not running, inside a folder
// the shim carries.
//
// A created container's workload does not exist yet (and an exited one's
// is gone), so functions refuses docker cp to it. But the contents of a
// carried bind or named volume live on this host, in the folder the shim
// pushes to the workload at start: in Docker, a cp into a created
// container's volume writes into the volume, which is what
// gitlab-ci-local does (its helper container, created with the build
// volume, gets the project by `docker cp` before it starts). So a stat or
// an upload whose path lies in a carried folder of a container that is
// not running is served here, on that folder; the next start carries it
// to the workload. Downloads keep going to functions: a stopped
// container's own files (outside its volumes) are gone with its workload.
//
// An upload elsewhere in a created container that functions cannot take
// (its workload does not run yet) is staged here when the container has
// carried folders: its agent then holds the main process until the
// shim's first push at start (SOCKERLESS_CARRY_HOLD), and the shim
// applies the staged uploads, in order, through the agent before that
// push. gitlab-ci-local copies its job script to /gcl-cmd so. Without
// carried folders, or on a provider whose agents do not hold for the
// carry (holdsForCarry), nothing keeps the process from running first,
// and the upload is refused as before.

// maxStaged bounds the uploads staged for one container (64 MiB).
const maxStaged = 64 << 20

// stagedPut is one staged docker cp upload: its query (path and
// options) and its tar.
type stagedPut struct {
	query string
	body  []byte
}

// holdsForCarry reports whether a provider's agents hold the main
// process until the shim's first carry push (SOCKERLESS_CARRY_HOLD),
// which a staged upload relies on to land first.
func holdsForCarry(provider string) bool { return provider == "ecs" }

// stagePut stages the upload r to a container that is not running and
// has carried folders, answering it, and reports whether it did.
func (s *Shim) stagePut(w http.ResponseWriter, r *http.Request) bool {
	m := archivePath.FindStringSubmatch(versionPrefix.ReplaceAllString(r.URL.Path, ""))
	if m == nil || !s.opts.CarryBinds {
		return false
	}
	if p, err := s.providerName(r.Context()); err != nil || !holdsForCarry(p) {
		return false
	}
	c, err := s.carriedOf(r.Context(), m[1])
	if err != nil || len(c.binds) == 0 {
		return false
	}
	if clean := path.Clean("/" + r.URL.Query().Get("path")); slices.ContainsFunc(c.binds, func(b CarriedBind) bool {
		return b.ReadOnly && (clean == b.Destination || strings.HasPrefix(clean, strings.TrimSuffix(b.Destination, "/")+"/"))
	}) {
		return false // read-only, as in Docker
	}
	var info struct{ State struct{ Running bool } }
	if err := s.getJSON(r.Context(), "/containers/"+url.PathEscape(c.id)+"/json", &info); err != nil || info.State.Running {
		return false
	}
	s.carry.mu.Lock()
	have := 0
	for _, p := range s.carry.staged[c.id] {
		have += len(p.body)
	}
	s.carry.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxStaged-have)+1))
	if err != nil {
		writeError(w, err, http.StatusBadRequest)
		return true
	}
	if have+len(body) > maxStaged {
		writeError(w, errdefs.InvalidParameterf("docker cp into container %s before it starts: more than %d MiB staged", c.id, maxStaged>>20), 0)
		return true
	}
	s.carry.mu.Lock()
	if s.carry.staged == nil {
		s.carry.staged = map[string][]stagedPut{}
	}
	s.carry.staged[c.id] = append(s.carry.staged[c.id], stagedPut{query: r.URL.RawQuery, body: body})
	s.carry.mu.Unlock()
	s.log.Debug("docker cp into a container that is not running staged for its start", "container", c.id, "bytes", len(body))
	w.WriteHeader(http.StatusOK)
	return true
}

// applyStaged applies container id's staged uploads through its agent,
// which has just started, and forgets them.
func (s *Shim) applyStaged(ctx context.Context, id string) error {
	s.carry.mu.Lock()
	puts := s.carry.staged[id]
	delete(s.carry.staged, id)
	s.carry.mu.Unlock()
	for _, p := range puts {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "/containers/"+url.PathEscape(id)+"/archive?"+p.query, bytes.NewReader(p.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-tar")
		rec := &recorder{header: http.Header{}}
		s.serveArchive(rec, req)
		if rec.status/100 != 2 {
			return fmt.Errorf("docker cp staged before container %s started: %d %s", id, rec.status, strings.TrimSpace(rec.body.String()))
		}
	}
	return nil
}

// archiveInCarried finds, for an archive request on container ref at
// path p, the carried folder holding p when the container is not running:
// the folder and the path inside it ("/" being the bind's destination),
// and the carry lock to hold. ok is false when the request is not for
// the shim.
func (s *Shim) archiveInCarried(ctx context.Context, ref, p string) (root, inner, lockKey string, ok bool) {
	if !s.opts.CarryBinds || p == "" {
		return "", "", "", false
	}
	c, err := s.carriedOf(ctx, ref)
	if err != nil || len(c.binds) == 0 {
		return "", "", "", false
	}
	if !path.IsAbs(p) {
		p = "/" + p
	}
	clean := path.Clean(p)
	var best *CarriedBind
	for i := range c.binds {
		b := &c.binds[i]
		if (clean == b.Destination || strings.HasPrefix(clean, strings.TrimSuffix(b.Destination, "/")+"/")) &&
			(best == nil || len(b.Destination) > len(best.Destination)) {
			best = b
		}
	}
	if best == nil || best.ReadOnly {
		return "", "", "", false
	}
	var info struct{ State struct{ Running bool } }
	if err := s.getJSON(ctx, "/containers/"+url.PathEscape(c.id)+"/json", &info); err != nil || info.State.Running {
		return "", "", "", false
	}
	if best.Volume != "" {
		if !s.carriesVolumes(ctx) {
			return "", "", "", false
		}
		if root, err = s.volumeDir(best.Volume); err != nil {
			return "", "", "", false
		}
		lockKey = volumeLockKey(best.Volume)
	} else {
		root, lockKey = best.Source, c.id
	}
	inner = "/" + strings.TrimPrefix(strings.TrimPrefix(clean, strings.TrimSuffix(best.Destination, "/")), "/")
	// docker cp's trailing "/" and "/." are meaningful (follow a final
	// symlink, copy a folder's contents).
	switch {
	case strings.HasSuffix(p, "/.") && inner != "/":
		inner += "/."
	case strings.HasSuffix(p, "/") && inner != "/":
		inner += "/"
	}
	return root, inner, lockKey, true
}

// serveArchiveCarried answers a stat (HEAD) or an upload (PUT) on a
// carried folder of a container that is not running, and reports whether
// it did.
func (s *Shim) serveArchiveCarried(w http.ResponseWriter, r *http.Request, ref string) bool {
	if r.Method != http.MethodHead && r.Method != http.MethodPut {
		return false
	}
	p := r.URL.Query().Get("path")
	root, inner, lockKey, ok := s.archiveInCarried(r.Context(), ref, p)
	if !ok {
		return false
	}
	unlock := s.lockCarry(lockKey)
	defer unlock()
	ar := &agent.FSArchiver{Root: root}
	if r.Method == http.MethodHead {
		st, err := ar.StatPath(r.Context(), inner)
		if err != nil {
			writeError(w, err, 0)
			return true
		}
		st.Name = path.Base(path.Clean(p))
		b, _ := json.Marshal(st)
		w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
		w.WriteHeader(http.StatusOK)
		return true
	}
	noOverwrite := boolValue(r, "noOverwriteDirNonDir")
	if err := ar.PutArchive(r.Context(), inner, r.Body, noOverwrite); err != nil {
		if !errdefs.IsNotFound(err) && !errdefs.IsInvalidParameter(err) {
			s.log.Warn("docker cp into a carried folder failed", "container", ref, "path", p, "err", err)
		}
		writeError(w, err, 0)
		return true
	}
	s.log.Debug("docker cp into a carried folder of a container that is not running", "container", ref, "path", p)
	w.WriteHeader(http.StatusOK)
	return true
}
