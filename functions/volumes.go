package functions

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/volume"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// anonymousLabel marks volumes created without a name, as Docker does.
const AnonymousLabel = "com.docker.volume.anonymous"

func VolumeMountpoint(name string) string { return "/var/lib/sockerless/volumes/" + name + "/_data" }

// createVolume creates the volume name unless it exists, reporting
// whether this call created it. anonymous marks a volume made for a
// container's unnamed mount point.
func (a *API) CreateVolume(ctx context.Context, name, driver string, labels, opts map[string]string, anonymous bool) (bool, error) {
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

func (a *API) postVolumesCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := httpx.DecodeJSON(r, &req, true); err != nil {
		return err
	}
	anonymous := req.Name == ""
	if anonymous {
		// As Docker: an unnamed volume is anonymous, labelled so, and
		// removed by a plain prune.
		req.Name = NewID()
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[AnonymousLabel] = ""
	} else if err := ValidateVolumeName(req.Name); err != nil {
		return err
	}
	if req.Driver == "" {
		req.Driver = "local"
	}
	if req.Driver != "local" {
		return errdefs.NotImplementedf("volume driver %q is not supported by sockerless (only local)", req.Driver)
	}
	if req.ClusterVolumeSpec != nil {
		return errdefs.NotImplementedf("cluster volumes are not supported by sockerless")
	}
	if _, err := a.CreateVolume(r.Context(), req.Name, req.Driver, req.Labels, req.DriverOpts, anonymous); err != nil {
		return err
	}
	v, err := a.st.Volume(r.Context(), req.Name)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, volumeView(v, nil))
}

func volumeView(v *records.Volume, refs *int64) volume.Volume {
	out := volume.Volume{
		CreatedAt:  v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
		Driver:     v.Driver,
		Labels:     v.Labels,
		Mountpoint: v.Mountpoint,
		Name:       v.Name,
		Options:    v.Options,
		Scope:      v.Scope,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if refs != nil {
		out.UsageData = &volume.UsageData{RefCount: *refs, Size: -1}
	}
	return out
}

// volumeUsers maps volume names to the containers mounting them.
func volumeUsers(cs []*records.Container) map[string][]string {
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

func (a *API) volumeViews(ctx context.Context, cs []*records.Container) ([]volume.Volume, error) {
	vs, err := a.st.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	users := volumeUsers(cs)
	out := []volume.Volume{}
	for _, v := range vs {
		n := int64(len(users[v.Name]))
		out = append(out, volumeView(v, &n))
	}
	return out, nil
}

func (a *API) getVolumeByName(w http.ResponseWriter, r *http.Request) error {
	v, err := a.st.Volume(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, volumeView(v, nil))
}

func (a *API) getVolumesList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("name", "label", "label!", "dangling", "driver"); err != nil {
		return err
	}
	vs, err := a.st.Volumes(ctx)
	if err != nil {
		return err
	}
	var users map[string][]string
	if f.Has("dangling") {
		cs, err := a.st.Containers(ctx)
		if err != nil {
			return err
		}
		users = volumeUsers(cs)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	resp := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, v := range vs {
		if f.Has("name") {
			ok := false
			for p := range f["name"] {
				ok = ok || strings.Contains(v.Name, p)
			}
			if !ok {
				continue
			}
		}
		if !f.Match("driver", v.Driver) || !f.MatchLabels(v.Labels) {
			continue
		}
		if f.Has("dangling") {
			dangling := len(users[v.Name]) == 0
			want := f["dangling"]["true"] || f["dangling"]["1"]
			if dangling != want {
				continue
			}
		}
		resp.Volumes = append(resp.Volumes, volumeView(v, nil))
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

func (a *API) deleteVolumes(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	v, err := a.st.Volume(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) && httpx.BoolValue(r, "force") {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return err
	}
	if err := a.RemoveVolume(ctx, v); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) RemoveVolume(ctx context.Context, v *records.Volume) error {
	return a.RemoveVolumeOf(ctx, v, "")
}

// removeVolumeOf removes volume v unless a container other than owner
// (the container being removed with it, or "") uses it.
func (a *API) RemoveVolumeOf(ctx context.Context, v *records.Volume, owner string) error {
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	users := volumeUsers(cs)[v.Name]
	users = slices.DeleteFunc(users, func(id string) bool { return id == owner })
	if len(users) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use - [%s]", v.Name, strings.Join(users, ", "))
	}
	// The data goes first: a volume whose data could not be deleted
	// keeps its record, so the removal can be tried again, and a new
	// volume of the same name never sees the old data.
	if vr, ok := a.provider.(providers.VolumeRemover); ok {
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

func (a *API) postVolumesPrune(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("label", "label!", "all"); err != nil {
		return err
	}
	all := f["all"]["true"] || f["all"]["1"]
	vs, err := a.st.Volumes(ctx)
	if err != nil {
		return err
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	users := volumeUsers(cs)
	rep := volume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range vs {
		// Since Docker 23 prune removes only anonymous volumes unless all=true.
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || !f.MatchLabels(v.Labels) {
			continue
		}
		if err := a.RemoveVolume(ctx, v); err != nil {
			return err
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}
