package core

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// AnonymousLabel marks volumes created without a name, as Docker does.
const AnonymousLabel = "com.docker.volume.anonymous"

// VolumeMountpoint is where volume name is shown as mounted, as Docker's
// local driver does.
func VolumeMountpoint(name string) string { return "/var/lib/sockerless/volumes/" + name + "/_data" }

// CreateVolume creates the volume name unless it exists, reporting
// whether this call created it. anonymous marks a volume made for a
// container's unnamed mount point.
func (a *Backend) CreateVolume(ctx context.Context, name, driver string, labels, opts map[string]string, anonymous bool) (bool, error) {
	if _, err := a.st.Volume(ctx, name); err == nil {
		return false, nil
	} else if !errdefs.IsNotFound(err) {
		return false, err
	}
	v := &records.Volume{Name: name, Driver: driver, Mountpoint: VolumeMountpoint(name), CreatedAt: a.st.Now(), Labels: labels, Options: opts, Scope: "local", Anonymous: anonymous}
	if err := a.st.CreateVolume(ctx, v); err != nil {
		if errdefs.IsConflict(err) {
			return false, nil
		}
		return false, err
	}
	a.Event(ctx, events.VolumeEventType, events.ActionCreate, name, map[string]string{"driver": driver})
	return true, nil
}

// RemoveVolume removes v when no container uses it.
func (a *Backend) RemoveVolume(ctx context.Context, v *records.Volume) error {
	return a.RemoveVolumeOf(ctx, v, "")
}

// RemoveVolumeOf removes volume v unless a container other than owner
// (the container being removed with it, or "") uses it.
func (a *Backend) RemoveVolumeOf(ctx context.Context, v *records.Volume, owner string) error {
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	users := VolumeUsers(cs)[v.Name]
	users = slices.DeleteFunc(users, func(id string) bool { return id == owner })
	if len(users) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use - [%s]", v.Name, strings.Join(users, ", "))
	}
	// The data goes first: a volume whose data could not be deleted
	// keeps its record, so the removal can be tried again, and a new
	// volume of the same name never sees the old data.
	if vr, ok := providers.As[providers.VolumeRemover](a.provider); ok {
		if err := vr.RemoveVolume(ctx, v.Name); err != nil {
			return fmt.Errorf("provider %s: remove volume %s: %w", a.provider.Name(), v.Name, err)
		}
	}
	if err := a.st.DeleteVolume(ctx, v.Name); err != nil {
		return err
	}
	a.Event(ctx, events.VolumeEventType, events.ActionDestroy, v.Name, map[string]string{"driver": v.Driver})
	return nil
}

// VolumeUsers maps volume names to the containers mounting them.
func VolumeUsers(cs []*records.Container) map[string][]string {
	users := map[string][]string{}
	for _, c := range cs {
		for _, m := range ContainerMounts(c) {
			if m.Type == mount.TypeVolume {
				users[m.Name] = append(users[m.Name], c.ID)
			}
		}
	}
	return users
}
