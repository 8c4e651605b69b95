package volumes

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/volume"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

func (a *Router) postVolumesCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := httpx.DecodeJSON(r, &req, true); err != nil {
		return err
	}
	anonymous := req.Name == ""
	if anonymous {
		// As Docker: an unnamed volume is anonymous, labelled so, and
		// removed by a plain prune.
		req.Name = core.NewID()
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[core.AnonymousLabel] = ""
	} else if err := core.ValidateVolumeName(req.Name); err != nil {
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
	if _, err := a.b.CreateVolume(r.Context(), req.Name, req.Driver, req.Labels, req.DriverOpts, anonymous); err != nil {
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

// Views lists every volume as `docker volume ls` does, with the
// containers cs using each; system df shows them too.
func (a *Router) Views(ctx context.Context, cs []*records.Container) ([]volume.Volume, error) {
	vs, err := a.st.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	users := core.VolumeUsers(cs)
	out := []volume.Volume{}
	for _, v := range vs {
		n := int64(len(users[v.Name]))
		out = append(out, volumeView(v, &n))
	}
	return out, nil
}

func (a *Router) getVolumeByName(w http.ResponseWriter, r *http.Request) error {
	v, err := a.st.Volume(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, volumeView(v, nil))
}

func (a *Router) getVolumesList(w http.ResponseWriter, r *http.Request) error {
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
		users = core.VolumeUsers(cs)
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

func (a *Router) deleteVolumes(w http.ResponseWriter, r *http.Request) error {
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
	if err := a.b.RemoveVolume(ctx, v); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) postVolumesPrune(w http.ResponseWriter, r *http.Request) error {
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
	users := core.VolumeUsers(cs)
	rep := volume.PruneReport{VolumesDeleted: []string{}}
	for _, v := range vs {
		// Since Docker 23 prune removes only anonymous volumes unless all=true.
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || !f.MatchLabels(v.Labels) {
			continue
		}
		if err := a.b.RemoveVolume(ctx, v); err != nil {
			return err
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}
