package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// ValidName is Docker's container name rule.
var ValidName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// NewID returns a new random 64-hex-digit id, as Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MergeEnv merges env lists by key, later lists winning, keeping the first
// list's order; PATH gets Docker's default when no list sets it.
func MergeEnv(lists ...[]string) []string {
	var keys []string
	vals := map[string]string{}
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if _, ok := vals[k]; !ok {
				keys = append(keys, k)
			}
			vals[k] = kv
		}
	}
	if _, ok := vals["PATH"]; !ok {
		keys = append([]string{"PATH"}, keys...)
		vals["PATH"] = "PATH=" + DefaultPath
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, vals[k])
	}
	return out
}

// DefaultPath is the PATH a container gets when its image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ContainerMounts lists a container's binds, mounts and anonymous volumes
// in inspect's shape.
func ContainerMounts(c *records.Container) []container.MountPoint {
	var out []container.MountPoint
	volume := func(name, dest string, rw bool) container.MountPoint {
		return container.MountPoint{Type: mount.TypeVolume, Name: name, Source: VolumeMountpoint(name), Destination: dest, Driver: "local", RW: rw}
	}
	covered := map[string]bool{}
	for _, s := range c.HostConfig.Binds {
		b, err := ParseBind(s)
		if err != nil {
			continue
		}
		covered[b.Destination] = true
		var mp container.MountPoint
		switch {
		case b.Source == "":
			mp = volume(c.AnonVolumes[b.Destination], b.Destination, true)
		case b.isHostPath():
			mp = container.MountPoint{Type: mount.TypeBind, Source: b.Source, Destination: b.Destination, RW: true, Propagation: mount.PropagationRPrivate}
		default:
			mp = volume(b.Source, b.Destination, true)
		}
		mp.Mode = b.Mode
		mp.RW = !b.readOnly()
		out = append(out, mp)
	}
	for _, m := range c.HostConfig.Mounts {
		covered[m.Target] = true
		mp := container.MountPoint{Type: m.Type, Destination: m.Target, RW: !m.ReadOnly}
		switch m.Type {
		case mount.TypeVolume:
			name := m.Source
			if name == "" {
				name = c.AnonVolumes[m.Target]
			}
			mp = volume(name, m.Target, !m.ReadOnly)
		case mount.TypeBind:
			mp.Source, mp.Propagation = m.Source, mount.PropagationRPrivate
		}
		out = append(out, mp)
	}
	dests := make([]string, 0, len(c.Config.Volumes))
	for d := range c.Config.Volumes {
		if !covered[d] && c.AnonVolumes[d] != "" {
			dests = append(dests, d)
		}
	}
	sort.Strings(dests)
	for _, d := range dests {
		out = append(out, volume(c.AnonVolumes[d], d, true))
	}
	return out
}

// ContainerAttrs are the attributes of c's events (name, image, labels).
func ContainerAttrs(c *records.Container) map[string]string {
	attrs := map[string]string{"name": c.Name, "image": c.ImageRef}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	return attrs
}

// Spec builds the provider's view of a container.
func (a *Backend) Spec(c *records.Container) providers.Spec {
	s := providers.Spec{
		ID:         c.ID,
		Name:       c.Name,
		Image:      c.ImageRef,
		ImageID:    c.Image,
		Entrypoint: c.Config.Entrypoint,
		Cmd:        c.Config.Cmd,
		Env:        c.Config.Env,
		WorkingDir: c.Config.WorkingDir,
		User:       c.Config.User,
		Hostname:   c.Config.Hostname,
		Tty:        c.Config.Tty,
		OpenStdin:  c.Config.OpenStdin,
		StdinOnce:  c.Config.StdinOnce,
		Labels:     c.Config.Labels,
	}
	if c.HostConfig != nil {
		s.Memory, s.NanoCPUs = c.HostConfig.Memory, c.HostConfig.NanoCPUs
	}
	for _, m := range ContainerMounts(c) {
		src := m.Source
		if m.Type == mount.TypeVolume {
			src = m.Name
			if !VolumeNameRe.MatchString(src) {
				// A record from before names were checked (or an
				// anonymous volume it never named): mounting it would
				// expose the whole volumes folder.
				continue
			}
		}
		s.Mounts = append(s.Mounts, providers.Mount{Type: string(m.Type), Source: src, Destination: m.Destination, ReadOnly: !m.RW, NoCopy: NoCopy(c, m.Destination)})
	}
	if hc := c.Config.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		s.Healthcheck = &providers.Healthcheck{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries}
	}
	for _, n := range slices.Sorted(maps.Keys(c.Networks)) {
		if ep := c.Networks[n]; ep != nil && ep.IPAddress != "" {
			s.Interfaces = append(s.Interfaces, providers.Interface{Network: n, IPAddress: ep.IPAddress, PrefixLen: ep.PrefixLen, MacAddress: ep.MacAddress,
				NetworkID: ep.NetworkID, DNSNames: ep.DNSNames})
		}
	}
	if h := c.HostConfig; h != nil {
		s.GroupAdd, s.StorageOpt = h.GroupAdd, h.StorageOpt
		s.ReadOnlyRootfs, s.Tmpfs, s.LogConfig = h.ReadonlyRootfs, h.Tmpfs, h.LogConfig.Config
		s.NetworkMode = string(h.NetworkMode)
		s.Resources = providers.Resources{Memory: h.Memory, NanoCPUs: h.NanoCPUs}
		if h.PidsLimit != nil {
			s.Resources.PidsLimit = *h.PidsLimit
		}
		for _, u := range h.Ulimits {
			if u != nil {
				s.Resources.Ulimits = append(s.Resources.Ulimits, providers.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
			}
		}
	}
	return s
}

// FormatTime formats t as Docker's inspect does (RFC 3339 with
// nanoseconds; the zero time as Docker's zero).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// NonNil returns s, or an empty slice for nil, so JSON says [] as
// Docker does.
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AutoRemove removes an auto-remove (--rm) container that ended or could
// not start, with its anonymous volumes, as Docker does.
func (a *Backend) AutoRemove(ctx context.Context, c *records.Container) error {
	if err := a.RemoveContainer(ctx, c, false); err != nil {
		return err
	}
	a.RemoveAnonymousVolumes(ctx, c)
	return nil
}

// RemoveContainer kills a running workload, releases it and deletes the
// record. Removal is idempotent: a concurrent removal of the same
// container is not an error.
func (a *Backend) RemoveContainer(ctx context.Context, c *records.Container, kill bool) error {
	if c.State.Running && kill {
		if err := a.provider.Kill(ctx, c.ID, 9); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("provider %s: kill: %w", a.provider.Name(), err)
		}
		a.MarkExitedLogged(ctx, c.ID, 137, a.st.Now(), c.StartSeq, c)
	}
	if err := a.provider.Remove(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("provider %s: remove: %w", a.provider.Name(), err)
	}
	a.ReleaseNetworks(ctx, c)
	a.DeleteExecsOf(ctx, c)
	if err := a.st.DeleteContainer(ctx, c.ID, 0, a.NewEvent(events.ContainerEventType, events.ActionDestroy, c.ID, ContainerAttrs(c))...); err != nil {
		if errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	a.Notify(ctx, c.ID)
	return nil
}

// DeleteExecsOf deletes the exec records of a container being removed
// (none to look for when it never had an exec).
func (a *Backend) DeleteExecsOf(ctx context.Context, c *records.Container) {
	if !c.HadExec {
		return
	}
	if execs, err := a.st.ExecsOf(ctx, c.ID); err == nil {
		for _, e := range execs {
			_ = a.st.DeleteExec(ctx, e.ID)
		}
	}
}

// ExitAndRemove ends and removes an auto-remove container c (as read by
// the exit report, still running) in one store write that also logs its
// die and destroy events, then removes its workload. It reports false,
// having left the record as it was, when the record moved since c was
// read: the caller then takes the general path.
//
// The record goes first: while it says running, a sweep that finds the
// workload gone records the container as vanished (exit 255), so a
// workload removed before its record would race every sweep and could
// turn a real exit code into 255 (as `docker run --rm` saw it once
// under load). A workload the provider then fails to remove is logged.
func (a *Backend) ExitAndRemove(ctx context.Context, c *records.Container, code int) bool {
	die := ContainerAttrs(c)
	die["exitCode"] = strconv.Itoa(code)
	evs := append(a.NewEvent(events.ContainerEventType, events.ActionDie, c.ID, die),
		a.NewEvent(events.ContainerEventType, events.ActionDestroy, c.ID, ContainerAttrs(c))...)
	a.DeleteExecsOf(ctx, c)
	// As Docker's --rm, its anonymous volumes go with it, before the
	// destroy that `docker run --rm` waits for.
	a.RemoveAnonymousVolumes(ctx, c)
	if err := a.st.DeleteContainer(ctx, c.ID, c.Version, evs...); err != nil {
		return false
	}
	if err := a.provider.Remove(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		a.log.Warn("auto-remove: provider remove failed after the record was deleted", "container", c.ID, "err", err)
	}
	a.Notify(ctx, c.ID)
	a.ReleaseNetworks(ctx, c)
	return true
}

// PruneUntil reads a prune's until filter (zero when absent).
func PruneUntil(f httpx.Filters, now time.Time) (time.Time, error) {
	if !f.Has("until") {
		return time.Time{}, nil
	}
	return ParseTime(f.Values("until")[0], now)
}

// PruneFilters reads the filters of prune request r, which may name
// until, label, label! and the extra keys of its kind, and their until
// time relative to now (zero when absent).
func PruneFilters(r *http.Request, now time.Time, extra ...string) (httpx.Filters, time.Time, error) {
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := f.Validate(append([]string{"until", "label", "label!"}, extra...)...); err != nil {
		return nil, time.Time{}, err
	}
	until, err := PruneUntil(f, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	return f, until, nil
}

// PruneMatches reports whether an object with labels, created at created,
// is one the prune filters f and until select.
func PruneMatches(f httpx.Filters, until time.Time, labels map[string]string, created time.Time) bool {
	return f.MatchLabels(labels) && (until.IsZero() || created.Before(until))
}

// PlaceholderImage is the image recorded for ref when no registry can be
// reached: a config with Docker's default PATH and /bin/sh, no layers.
// Its id is derived from the config without a time, so every runner that
// records the same placeholder agrees on it; its Created is when it was
// recorded (the real image's build time is unknown, and the epoch reads
// as a 56-year-old image).
func PlaceholderImage(ref string, now time.Time) *records.Image {
	cfg := v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: time.Unix(0, 0).UTC()},
		Config:       v1.Config{Env: []string{"PATH=" + DefaultPath}, Cmd: []string{"/bin/sh"}},
		RootFS:       v1.RootFS{Type: "layers"},
		Author:       "sockerless placeholder for " + ref,
	}
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	cfg.Created = v1.Time{Time: now.UTC()}
	return &records.Image{ID: "sha256:" + hex.EncodeToString(sum[:]), Created: cfg.Created.Time, Config: cfg, Source: "placeholder", Comment: "placeholder: registry unreachable at pull"}
}

// ApplyChange applies one Dockerfile-style --change of docker import.
func ApplyChange(c *v1.Config, change string) {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	list := func() []string {
		var l []string
		if json.Unmarshal([]byte(arg), &l) == nil {
			return l
		}
		return []string{"/bin/sh", "-c", arg}
	}
	switch strings.ToUpper(instr) {
	case "ENV":
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, _ = strings.Cut(arg, " ")
		}
		c.Env = MergeEnv(c.Env, []string{k + "=" + v})
	case "CMD":
		c.Cmd = list()
	case "ENTRYPOINT":
		c.Entrypoint = list()
	case "WORKDIR":
		c.WorkingDir = arg
	case "USER":
		c.User = arg
	case "LABEL":
		k, v, _ := strings.Cut(arg, "=")
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = strings.Trim(v, `"`)
	}
}
