package localshim

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Named volumes across workloads.
//
// On a provider whose workloads each have their own filesystem (a Fargate
// task, a Lambda invocation), a named volume mounted by several
// containers of one job (GitLab Runner's /builds and /cache: the helper
// writes, the build container reads) is a separate empty folder in each.
// The shim carries such volumes exactly as it carries binds of host
// folders: it keeps each volume's contents in a folder of its own under
// Options.VolumeDir, pushes what changed there to a container before it
// starts and before each exec, and pulls back what the container changed
// after each exec, when it exits (docker wait) and before it stops. Each
// container's carries are tracked against the state it last agreed on,
// so what one container did not change never overwrites what another
// wrote. The container's record keeps its volume mount as given
// (inspect, volume ls), and functions accepts carries to it.
//
// The volume's contents live on the runner host that carries them: two
// runner hosts sharing one control plane do not share a volume's data.

// volumeRemovePath is DELETE /volumes/{name}.
var volumeRemovePath = regexp.MustCompile(`^/volumes/([^/]+)$`)

// volumeName is Docker's rule for a local volume's name; the name is also
// the folder under VolumeDir, so the rule keeps it inside.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// sharesVolumes reports whether a provider's workloads already share
// named volumes (the folders of one host or one engine), so carrying them
// would be redundant and, with a full mirror at a first carry, harmful.
func sharesVolumes(provider string) bool {
	switch provider {
	case "memory", "docker", "synthetic":
		return true
	}
	return false
}

// carriesVolumes reports whether this shim carries named volumes: it has
// a VolumeDir and functions' provider gives each workload its own
// volumes. The provider is asked once (GET /info); when it cannot be
// asked, nothing is carried this time.
func (s *Shim) carriesVolumes(ctx context.Context) bool {
	if s.opts.VolumeDir == "" {
		return false
	}
	p, err := s.providerName(ctx)
	if err != nil {
		s.log.Warn("cannot tell whether named volumes are carried", "err", err)
		return false
	}
	return !sharesVolumes(p)
}

// providerName is functions' provider ("unknown" when /info names none),
// asked once (GET /info).
func (s *Shim) providerName(ctx context.Context) (string, error) {
	s.carry.mu.Lock()
	p := s.carry.provider
	s.carry.mu.Unlock()
	if p != "" {
		return p, nil
	}
	var info struct{ DriverStatus [][2]string }
	if err := s.getJSON(ctx, "/info", &info); err != nil {
		return "", err
	}
	for _, kv := range info.DriverStatus {
		if kv[0] == "Provider" {
			p = kv[1]
		}
	}
	if p == "" {
		p = "unknown"
	}
	s.carry.mu.Lock()
	s.carry.provider = p
	s.carry.mu.Unlock()
	return p, nil
}

// volumeDir is the folder holding volume name's contents, made if absent.
func (s *Shim) volumeDir(name string) (string, error) {
	if !volumeName.MatchString(name) {
		return "", errdefs.InvalidParameterf("volume name %q cannot be carried", name)
	}
	d := filepath.Join(s.opts.VolumeDir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, nil
}

// volumeLockKey is the carry lock of a volume's folder (beside the
// containers' locks, which are keyed by container id).
func volumeLockKey(name string) string { return "\x00volume:" + name }

// forgetBasesUnlessRunning drops the agreed states of container id's
// carries when it is not running, so the push of its start mirrors the
// host's folders whole: a started workload's carried folders begin empty
// (a new task, or tmpfs emptied by a restart), whatever an earlier run of
// the same container had.
func (s *Shim) forgetBasesUnlessRunning(ctx context.Context, id string) {
	var info struct{ State struct{ Running bool } }
	if err := s.getJSON(ctx, "/containers/"+id+"/json", &info); err != nil || info.State.Running {
		return
	}
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	for k := range s.carry.bases {
		if strings.HasPrefix(k, id+"\x00") {
			delete(s.carry.bases, k)
		}
	}
}

// addCarriedVolumes adds to a create body's CarryLabel the named volumes
// it mounts (HostConfig.Binds "NAME:/dst[:ro]" and HostConfig.Mounts of
// type volume with a Source). The mounts themselves are kept: the
// container's record shows its volumes, and the provider makes each a
// folder of the workload. Anonymous volumes are one container's own and
// are not carried.
func addCarriedVolumes(body []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return body, nil // functions answers the decoding error
	}
	var hc struct {
		Binds  []string
		Mounts []struct {
			Type, Source, Target string
			ReadOnly             bool
		}
	}
	if raw, ok := top["HostConfig"]; !ok || json.Unmarshal(raw, &hc) != nil {
		return body, nil
	}
	var vols []CarriedBind
	for _, b := range hc.Binds {
		parts := strings.Split(b, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || strings.HasPrefix(parts[0], "/") || !strings.HasPrefix(parts[1], "/") {
			continue
		}
		ro := false
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				ro = ro || o == "ro"
			}
		}
		vols = append(vols, CarriedBind{Volume: parts[0], Destination: path.Clean(parts[1]), ReadOnly: ro})
	}
	for _, m := range hc.Mounts {
		if m.Type == "volume" && m.Source != "" && strings.HasPrefix(m.Target, "/") {
			vols = append(vols, CarriedBind{Volume: m.Source, Destination: path.Clean(m.Target), ReadOnly: m.ReadOnly})
		}
	}
	if len(vols) == 0 {
		return body, nil
	}
	for _, v := range vols {
		if !volumeName.MatchString(v.Volume) {
			return body, nil // functions answers Docker's error for the name
		}
	}
	labels := map[string]string{}
	if raw, ok := top["Labels"]; ok {
		_ = json.Unmarshal(raw, &labels)
		if labels == nil {
			labels = map[string]string{}
		}
	}
	var all []CarriedBind
	if l := labels[CarryLabel]; l != "" {
		if err := json.Unmarshal([]byte(l), &all); err != nil {
			return nil, errdefs.InvalidParameterf("label %s: %v", CarryLabel, err)
		}
	}
	all = append(all, vols...)
	// Parents first, as for binds: a nested mount is carried after the
	// one that holds it.
	sort.SliceStable(all, func(i, j int) bool { return all[i].Destination < all[j].Destination })
	lb, err := json.Marshal(all)
	if err != nil {
		return nil, err
	}
	labels[CarryLabel] = string(lb)
	if top["Labels"], err = json.Marshal(labels); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// serveVolumeRemove forwards a volume's removal and, once functions
// removed it, deletes the folder that kept its contents.
func (s *Shim) serveVolumeRemove(w http.ResponseWriter, r *http.Request, name string) {
	rec := &recorder{header: http.Header{}}
	s.forward(rec, r)
	if rec.status/100 == 2 && volumeName.MatchString(name) {
		unlock := s.lockCarry(volumeLockKey(name))
		err := os.RemoveAll(filepath.Join(s.opts.VolumeDir, name))
		unlock()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("removing a carried volume's folder failed", "volume", name, "err", err)
		}
	}
	rec.replay(w)
}

func (s *Shim) setPulledAtExit(id string, pulled bool) {
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	if !pulled {
		delete(s.carry.pulledAtExit, id)
		return
	}
	if s.carry.pulledAtExit == nil {
		s.carry.pulledAtExit = map[string]bool{}
	}
	s.carry.pulledAtExit[id] = true
}

func (s *Shim) wasPulledAtExit(id string) bool {
	s.carry.mu.Lock()
	defer s.carry.mu.Unlock()
	return s.carry.pulledAtExit[id]
}

// endsWorkload reports whether a stop, kill or restart request (action)
// ends the container's workload for good: a stop, or a kill with
// SIGKILL or SIGTERM (the default is SIGKILL). A restart starts it again.
func endsWorkload(r *http.Request, action string) bool {
	switch action {
	case "stop":
		return true
	case "kill":
		switch strings.TrimPrefix(strings.ToUpper(r.URL.Query().Get("signal")), "SIG") {
		case "", "KILL", "9", "TERM", "15":
			return true
		}
	}
	return false
}

// pulledAtEnd records that a container's carries were pulled back before
// a request that ends its workload, so a later removal does not wait for
// the agent that went with it (ended); or, for a restart, that its new
// workload will have changes to pull again (!ended).
func (s *Shim) pulledAtEnd(ctx context.Context, ref string, ended bool) {
	if c, err := s.carriedOf(ctx, ref); err == nil && len(c.binds) > 0 {
		s.setPulledAtExit(c.id, ended)
	}
}
