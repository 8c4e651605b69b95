package core

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// volumeNameChars is Docker's rule for a local volume's name (moby
// daemon/names.RestrictedNameChars); a name is also a folder under the
// provider's volumes folder, so the rule is what keeps it inside.
const volumeNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// VolumeNameRe matches a valid volume name.
var VolumeNameRe = regexp.MustCompile(`^` + volumeNameChars + `+$`)

// ValidateVolumeName answers Docker's errors (moby volume/local
// validateName, wrapped "create NAME: " by the volume service) for a name
// the local driver refuses.
func ValidateVolumeName(name string) error {
	if len(name) == 1 {
		return errdefs.InvalidParameterf("create %s: volume name is too short, names should be at least two alphanumeric characters", name)
	}
	if !VolumeNameRe.MatchString(name) {
		return errdefs.InvalidParameterf("create %s: %q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, name, volumeNameChars)
	}
	return nil
}

// BindSpec is one parsed HostConfig.Binds entry.
type BindSpec struct {
	// Source is a host path (starting with "/"), a volume name, or ""
	// for an anonymous volume ("/data" alone).
	Source      string
	Destination string
	Mode        string
}

// isHostPath reports whether the source names a host path: on Linux,
// Docker takes only an absolute path as a bind; anything else is a
// volume name (so "." and "../x" fail the name rule, as in Docker).
func (b BindSpec) isHostPath() bool { return strings.HasPrefix(b.Source, "/") }

// ParseBind parses "DEST", "SRC:DEST" or "SRC:DEST:MODE" as Docker's
// Linux parser does, with its error messages.
func ParseBind(spec string) (BindSpec, error) {
	parts := strings.Split(spec, ":")
	var b BindSpec
	switch len(parts) {
	case 1:
		b.Destination = parts[0]
	case 2, 3:
		b.Source, b.Destination = parts[0], parts[1]
		if len(parts) == 3 {
			b.Mode = parts[2]
		}
		if b.Source == "" {
			return b, errdefs.InvalidParameterf("invalid volume specification: '%s'", spec)
		}
	default:
		return b, errdefs.InvalidParameterf("invalid volume specification: '%s'", spec)
	}
	typ := "volume"
	if b.isHostPath() {
		typ = "bind"
	}
	if b.Destination == "" {
		return b, errdefs.InvalidParameterf("invalid volume specification: '%s'", spec)
	}
	if !strings.HasPrefix(b.Destination, "/") {
		return b, errdefs.InvalidParameterf("invalid volume specification: '%s': invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", spec, typ, b.Destination)
	}
	if b.Destination == "/" {
		return b, errdefs.InvalidParameterf("invalid volume specification: '%s': invalid mount config for type %q: invalid specification: destination can't be '/'", spec, typ)
	}
	return b, nil
}

// readOnly reports whether a bind's mode asks for a read-only mount.
func (b BindSpec) readOnly() bool {
	for _, o := range strings.Split(b.Mode, ",") {
		if o == "ro" {
			return true
		}
	}
	return false
}

// CheckMounts validates a container's binds and mounts as Docker does at
// create: volume names follow the local driver's rule, bind sources are
// absolute, and, unless hostBinds, no source names a path on this host
// (in split and cloud modes this host is the control plane's, not the
// client's).
func CheckMounts(hc *container.HostConfig, hostBinds bool) error {
	for _, s := range hc.Binds {
		b, err := ParseBind(s)
		if err != nil {
			return err
		}
		switch {
		case b.Source == "":
		case b.isHostPath():
			if !hostBinds {
				return ErrHostBind(s)
			}
		default:
			if err := ValidateVolumeName(b.Source); err != nil {
				return err
			}
		}
	}
	for _, m := range hc.Mounts {
		if m.Target == "" || !strings.HasPrefix(m.Target, "/") {
			return errdefs.InvalidParameterf("invalid mount config: mount target must be an absolute path")
		}
		switch m.Type {
		case mount.TypeVolume:
			if m.Source != "" {
				if err := ValidateVolumeName(m.Source); err != nil {
					return err
				}
			}
		case mount.TypeBind:
			if m.Source == "" {
				return errdefs.InvalidParameterf("invalid mount config for type \"bind\": field Source must not be empty")
			}
			if !strings.HasPrefix(m.Source, "/") {
				return errdefs.InvalidParameterf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source)
			}
			if !hostBinds {
				return ErrHostBind(m.Source + ":" + m.Target)
			}
		case mount.TypeTmpfs:
		default:
			return errdefs.InvalidParameterf("invalid mount config for type %q: mount type unsupported", m.Type)
		}
	}
	return nil
}

// ErrHostBind refuses a host bind where the control plane does not run on
// the client's host: the path would name a folder of the control plane's
// own machine (its secrets, its other containers' data), not the runner's.
func ErrHostBind(spec string) error {
	return errdefs.InvalidParameterf("invalid volume specification: '%s': bind mounts of host paths are not supported by this Sockerless deployment (split or cloud mode): the path would resolve on the control plane's host, not on the client's; use a named volume or docker cp", spec)
}

// anonymousDestinations lists, in a stable order, the mount points of c
// that Docker backs with a fresh anonymous volume: a bind of a bare path
// ("-v /data" sent as Binds), a volume mount without a source, and each
// Config.Volumes entry (from -v /data or the image's VOLUME) that no bind
// or mount covers.
func anonymousDestinations(c *records.Container) []string {
	covered := map[string]bool{}
	var out []string
	for _, s := range c.HostConfig.Binds {
		b, err := ParseBind(s)
		if err != nil {
			continue
		}
		covered[b.Destination] = true
		if b.Source == "" {
			out = append(out, b.Destination)
		}
	}
	for _, m := range c.HostConfig.Mounts {
		covered[m.Target] = true
		if m.Type == mount.TypeVolume && m.Source == "" {
			out = append(out, m.Target)
		}
	}
	var vols []string
	for d := range c.Config.Volumes {
		if !covered[d] && strings.HasPrefix(d, "/") && d != "/" {
			vols = append(vols, d)
		}
	}
	sort.Strings(vols)
	return append(out, vols...)
}

// PlanAnonymousVolumes names c's anonymous volumes (64 hex digits, as
// Docker's) in c.AnonVolumes; they are created with the record.
func PlanAnonymousVolumes(c *records.Container) {
	for _, d := range anonymousDestinations(c) {
		if c.AnonVolumes == nil {
			c.AnonVolumes = map[string]string{}
		}
		if _, ok := c.AnonVolumes[d]; !ok {
			c.AnonVolumes[d] = NewID()
		}
	}
}

// VolumesFor creates the volumes a container's binds and mounts refer to,
// as Docker does at create: named ones that do not exist yet and every
// anonymous one. It returns the names it created, so a create that fails
// later removes them again.
func (a *Backend) VolumesFor(ctx context.Context, c *records.Container) ([]string, error) {
	var created []string
	for _, m := range ContainerMounts(c) {
		if m.Type != mount.TypeVolume || m.Name == "" {
			continue
		}
		var labels map[string]string
		anon := false
		for _, n := range c.AnonVolumes {
			anon = anon || n == m.Name
		}
		if anon {
			labels = map[string]string{AnonymousLabel: ""}
		}
		made, err := a.CreateVolume(ctx, m.Name, "local", labels, nil, anon)
		if made {
			created = append(created, m.Name)
		}
		if err != nil {
			a.RemoveCreatedVolumes(ctx, created)
			return nil, err
		}
	}
	return created, nil
}

// RemoveCreatedVolumes undoes the volume creations of a create that
// failed: a volume another container has started to use since stays.
func (a *Backend) RemoveCreatedVolumes(ctx context.Context, names []string) {
	for _, n := range names {
		v, err := a.st.Volume(ctx, n)
		if err != nil {
			continue
		}
		if err := a.RemoveVolume(ctx, v); err != nil {
			a.log.Warn("create failed: its volume stays", "volume", n, "err", err)
		}
	}
}

// RemoveAnonymousVolumes removes the anonymous volumes of container c,
// removed or being removed (docker rm -v, and --rm), as Docker does; one
// another container uses too stays.
func (a *Backend) RemoveAnonymousVolumes(ctx context.Context, c *records.Container) {
	names := make([]string, 0, len(c.AnonVolumes))
	for _, n := range c.AnonVolumes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, err := a.st.Volume(ctx, n)
		if err != nil {
			continue
		}
		if err := a.RemoveVolumeOf(ctx, v, c.ID); err != nil {
			a.log.Warn("anonymous volume stays", "volume", n, "container", c.ID, "err", fmt.Errorf("remove: %w", err))
		}
	}
}

// NoCopy reports whether the volume at dest was asked to stay empty
// (--mount volume-nocopy, or a bind mode with "nocopy").
func NoCopy(c *records.Container, dest string) bool {
	for _, m := range c.HostConfig.Mounts {
		if m.Target == dest && m.VolumeOptions != nil && m.VolumeOptions.NoCopy {
			return true
		}
	}
	for _, s := range c.HostConfig.Binds {
		if b, err := ParseBind(s); err == nil && b.Destination == dest {
			for _, o := range strings.Split(b.Mode, ",") {
				if o == "nocopy" {
					return true
				}
			}
		}
	}
	return false
}
