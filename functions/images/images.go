package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

func (a *Router) postImagesCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "" {
		return a.imageImport(w, r, src)
	}
	from := q.Get("fromImage")
	if from == "" {
		return errdefs.InvalidParameterf("fromImage or fromSrc is required")
	}
	ref := from
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	named = reference.TagNameOnly(named)
	familiar := reference.FamiliarString(named)
	auth, err := core.DecodeAuth(r.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.PullTimeout)
	defer cancel()
	var img *records.Image
	var layers []v1.Layer
	if lf, ok := a.cfg.Registry.(core.LayerFetcher); ok && a.b.LayerStore() != nil {
		img, layers, err = lf.FetchLayers(ctx, named.String(), q.Get("platform"), auth)
	} else {
		img, err = a.cfg.Registry.Fetch(ctx, named.String(), q.Get("platform"), auth)
	}
	if err == nil {
		err = a.b.StoreLayers(layers)
	}
	placeholder := false
	if err != nil {
		if !errors.Is(err, core.ErrRegistryUnreachable) {
			return err
		}
		// Offline: keep an image already known under this name; else
		// record a placeholder so create/run work with the provider's
		// default filesystem.
		if _, ierr := a.st.Image(r.Context(), familiar); ierr == nil {
			p := core.NewProgress(w)
			p.Send(jsonstream.Message{Status: fmt.Sprintf("registry unreachable (%v); using the local image %s", err, familiar)})
			p.Send(jsonstream.Message{Status: "Status: Image is up to date for " + familiar})
			return nil
		}
		img = core.PlaceholderImage(familiar, a.st.Now())
		placeholder = true
		a.log.Warn("registry unreachable, storing a placeholder image", "ref", familiar, "err", err)
	}
	tagName := familiar
	if _, isDigest := named.(reference.Digested); isDigest {
		tagName = ""
	}
	if err := a.st.PutImage(r.Context(), img); err != nil {
		return err
	}
	if tagName != "" {
		if err := a.st.SetTag(r.Context(), tagName, img); err != nil {
			return err
		}
	}
	p := core.NewProgress(w)
	tagPart := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tagPart = t.Tag()
	}
	if placeholder {
		p.Send(jsonstream.Message{Status: fmt.Sprintf("registry unreachable: created placeholder image %s with no layers (the provider's default filesystem is used)", familiar), ID: tagPart})
	} else {
		p.Send(jsonstream.Message{Status: "Pulling from " + reference.FamiliarName(named), ID: tagPart})
		for _, l := range img.Layers {
			p.Send(jsonstream.Message{Status: "Pull complete", ID: core.ShortDigest(l.Digest)})
		}
		if len(img.RepoDigests) > 0 {
			p.Send(jsonstream.Message{Status: "Digest: " + strings.SplitN(img.RepoDigests[0], "@", 2)[1]})
		}
	}
	p.Send(jsonstream.Message{Status: "Status: Downloaded newer image for " + familiar})
	a.b.Event(r.Context(), events.ImageEventType, events.ActionPull, familiar, map[string]string{"name": familiar})
	return nil
}

// imageImport serves fromSrc: the body (fromSrc=-) is a root filesystem
// tarball that becomes a one-layer image.
func (a *Router) imageImport(w http.ResponseWriter, r *http.Request, src string) error {
	if src != "-" {
		return errdefs.NotImplementedf("importing from a URL is not supported by sockerless; use fromSrc=- with the tarball as the body")
	}
	ctx := r.Context()
	q := r.URL.Query()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r.Body, 1<<34))
	if err != nil {
		return errdefs.InvalidParameterf("reading import body: %v", err)
	}
	diff := "sha256:" + hex.EncodeToString(h.Sum(nil))
	cfg := v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: a.st.Now().UTC()},
		Config:  v1.Config{Env: []string{"PATH=" + core.DefaultPath}},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{mustHash(diff)}},
		History: []v1.History{{Created: v1.Time{Time: a.st.Now().UTC()}, CreatedBy: "import", Comment: q.Get("message")}},
	}
	for _, change := range q["changes"] {
		core.ApplyChange(&cfg.Config, change)
	}
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	img := &records.Image{ID: "sha256:" + hex.EncodeToString(sum[:]), Created: cfg.Created.Time, Config: cfg, Source: "import", Size: n, Comment: q.Get("message"),
		Layers: []records.Layer{{Digest: diff, DiffID: diff, Size: n, MediaType: "application/vnd.docker.image.rootfs.diff.tar"}}}
	if err := a.st.PutImage(ctx, img); err != nil {
		return err
	}
	if repo := q.Get("repo"); repo != "" {
		ref := repo
		if tag := q.Get("tag"); tag != "" {
			ref += ":" + tag
		}
		if err := a.st.SetTag(ctx, ref, img); err != nil {
			return err
		}
	}
	a.b.Event(ctx, events.ImageEventType, events.ActionImport, img.ID, nil)
	p := core.NewProgress(w)
	p.Send(jsonstream.Message{Status: img.ID})
	return nil
}

func mustHash(s string) v1.Hash {
	h, _ := v1.NewHash(s)
	return h
}

// postImagesLoad reads a docker-save or OCI-layout tarball and records each of
// its images with its real config.
func (a *Router) postImagesLoad(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// The archive may be larger than the platform accepts: it then comes
	// from the relay's blob store (blob.go).
	body, answered, err := a.b.RequestBody(w, r, core.BlobLoad)
	if err != nil || answered {
		return err
	}
	defer body.Close()
	dir, err := os.MkdirTemp("", "sockerless-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "archive.tar")
	f, err := os.Create(archive)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	f.Close()
	if err != nil {
		return errdefs.InvalidParameterf("reading image archive: %v", err)
	}
	loaded, err := readImageArchive(archive, filepath.Join(dir, "x"))
	if err != nil {
		return err
	}
	// quiet only hides progress bars, which a load here has none of; the
	// "Loaded image" lines are always sent, as Docker does.
	p := core.NewProgress(w)
	fail := func(err error) error {
		p.Fail(err.Error(), 0)
		return nil
	}
	for _, l := range loaded {
		if err := a.b.StoreLayers(l.layers); err != nil {
			return fail(err)
		}
		if err := a.st.PutImage(ctx, l.img); err != nil {
			return fail(err)
		}
		for _, t := range l.tags {
			if err := a.st.SetTag(ctx, t, l.img); err != nil {
				return fail(err)
			}
			p.Send(jsonstream.Message{Stream: "Loaded image: " + t + "\n"})
		}
		if len(l.tags) == 0 {
			p.Send(jsonstream.Message{Stream: "Loaded image ID: " + l.img.ID + "\n"})
		}
		a.b.Event(ctx, events.ImageEventType, events.ActionLoad, l.img.ID, nil)
	}
	return nil
}

type loadedImage struct {
	img    *records.Image
	layers []v1.Layer // read from the archive while it exists
	tags   []string
}

// readImageArchive reads the images of a docker-save tarball
// (manifest.json) or, failing that, an OCI layout (index.json), which is
// extracted into scratch.
func readImageArchive(archive, scratch string) ([]loadedImage, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	if m, err := tarball.LoadManifest(opener); err == nil {
		var out []loadedImage
		for _, d := range m {
			var tag *name.Tag
			if len(d.RepoTags) > 0 {
				t, err := name.NewTag(d.RepoTags[0])
				if err != nil {
					return nil, errdefs.InvalidParameterf("invalid tag %q in image archive", d.RepoTags[0])
				}
				tag = &t
			} else if len(m) > 1 {
				return nil, errdefs.InvalidParameterf("image archive holds several untagged images; load them one at a time")
			}
			img, err := tarball.Image(opener, tag)
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid image in archive: %v", err)
			}
			rec, err := core.ImageRecord(img, "load")
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid image in archive: %v", err)
			}
			var tags []string
			for _, t := range d.RepoTags {
				if n, err := records.NormalizeRef(t); err == nil {
					tags = append(tags, n)
				}
			}
			layers, err := img.Layers()
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid image in archive: %v", err)
			}
			out = append(out, loadedImage{img: rec, layers: layers, tags: tags})
		}
		return out, nil
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := extractTar(f, scratch); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(scratch)
	if err != nil {
		return nil, errdefs.InvalidParameterf("image archive has neither a valid manifest.json nor an OCI index.json: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, errdefs.InvalidParameterf("invalid OCI index: %v", err)
	}
	var out []loadedImage
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, errdefs.InvalidParameterf("OCI layout manifest %s: %v", desc.Digest, err)
		}
		rec, err := core.ImageRecord(img, "load")
		if err != nil {
			return nil, errdefs.InvalidParameterf("OCI layout manifest %s: %v", desc.Digest, err)
		}
		var tags []string
		for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
			if ref, err := records.NormalizeRef(desc.Annotations[k]); err == nil && strings.ContainsAny(desc.Annotations[k], ":/") {
				tags = append(tags, ref)
				break
			}
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, errdefs.InvalidParameterf("OCI layout manifest %s: %v", desc.Digest, err)
		}
		out = append(out, loadedImage{img: rec, layers: layers, tags: tags})
	}
	return out, nil
}

// extractTar unpacks r into dir, refusing entries that escape it.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errdefs.InvalidParameterf("invalid image archive: %v", err)
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return errdefs.InvalidParameterf("invalid image archive: entry %q escapes the archive root", hdr.Name)
		}
		target := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return errdefs.InvalidParameterf("invalid image archive: %v", err)
			}
		default:
			// Symlinks and others are not needed to read an image archive
			// and are skipped rather than followed.
		}
	}
}

func (a *Router) getImagesByName(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	img, err := a.st.Image(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	tags, err := a.st.TagsOf(ctx, img.ID)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, imageInspectView(img, tags))
}

func imageInspectView(img *records.Image, tags []string) image.InspectResponse {
	var cfg dockerspec.DockerOCIImageConfig
	b, _ := json.Marshal(img.Config.Config)
	_ = json.Unmarshal(b, &cfg)
	resp := image.InspectResponse{
		ID:           img.ID,
		RepoTags:     core.NonNil(tags),
		RepoDigests:  core.NonNil(img.RepoDigests),
		Comment:      img.Comment,
		Created:      core.FormatTime(img.Created),
		Author:       img.Config.Author,
		Config:       &cfg,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		OsVersion:    img.Config.OSVersion,
		Size:         img.Size,
		RootFS:       image.RootFS{Type: "layers"},
	}
	if resp.Os == "" {
		resp.Os = "linux"
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, d.String())
	}
	return resp
}

// Summaries lists the images matching f as `docker images` does (all:
// with intermediate images); system df shows them too.
func (a *Router) Summaries(ctx context.Context, f httpx.Filters, all bool) ([]image.Summary, error) {
	imgs, err := a.st.Images(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := a.st.Tags(ctx)
	if err != nil {
		return nil, err
	}
	byImage := map[string][]string{}
	for _, t := range tags {
		byImage[t.ImageID] = append(byImage[t.ImageID], t.Ref)
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return nil, err
	}
	uses := map[string]int64{}
	for _, c := range cs {
		uses[c.Image]++
	}
	var before, since *records.Image
	if f.Has("before") {
		if before, err = a.st.Image(ctx, f.Values("before")[0]); err != nil {
			return nil, err
		}
	}
	if f.Has("since") {
		if since, err = a.st.Image(ctx, f.Values("since")[0]); err != nil {
			return nil, err
		}
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
	out := []image.Summary{}
	for _, img := range imgs {
		refs := byImage[img.ID]
		sort.Strings(refs)
		if f.Has("dangling") {
			want := f["dangling"]["true"] || f["dangling"]["1"]
			if (len(refs) == 0) != want {
				continue
			}
		}
		if f.Has("reference") {
			// Only the matching tags are listed, as Docker does.
			var matched []string
			for _, ref := range refs {
				for pat := range f["reference"] {
					if matchReference(pat, ref) {
						matched = append(matched, ref)
						break
					}
				}
			}
			if len(matched) == 0 {
				continue
			}
			refs = matched
		}
		if !f.MatchLabels(img.Config.Config.Labels) {
			continue
		}
		if before != nil && !img.Created.Before(before.Created) {
			continue
		}
		if since != nil && !img.Created.After(since.Created) {
			continue
		}
		labels := img.Config.Config.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, image.Summary{
			Containers:  uses[img.ID],
			Created:     img.Created.Unix(),
			ID:          img.ID,
			Labels:      labels,
			ParentID:    img.Parent,
			RepoDigests: core.NonNil(img.RepoDigests),
			RepoTags:    core.NonNil(refs),
			SharedSize:  -1,
			Size:        img.Size,
		})
	}
	return out, nil
}

// matchReference matches a reference filter ("alpine", "alpine:3.*",
// "*/app") against a familiar ref, as Docker does with path.Match on the
// name and on name:tag.
func matchReference(pattern, ref string) bool {
	name, _, _ := strings.Cut(ref, ":")
	if ok, _ := filepath.Match(pattern, ref); ok {
		return true
	}
	ok, _ := filepath.Match(pattern, name)
	return ok
}

func (a *Router) getImagesJSON(w http.ResponseWriter, r *http.Request) error {
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("dangling", "label", "label!", "before", "since", "reference", "until"); err != nil {
		return err
	}
	out, err := a.Summaries(r.Context(), f, httpx.BoolValue(r, "all"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *Router) postImagesTag(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	img, err := a.st.Image(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	repo, tag := r.URL.Query().Get("repo"), r.URL.Query().Get("tag")
	if repo == "" {
		return errdefs.InvalidParameterf("repository name must have at least one component")
	}
	ref := repo
	if tag != "" {
		ref += ":" + tag
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidParameterf("refusing to create a tag with a digest reference")
	}
	if err := a.st.SetTag(ctx, ref, img); err != nil {
		return err
	}
	a.b.Event(ctx, events.ImageEventType, events.ActionTag, img.ID, map[string]string{"name": reference.FamiliarString(reference.TagNameOnly(named))})
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *Router) deleteImages(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref := r.PathValue("name")
	force := httpx.BoolValue(r, "force")
	img, err := a.st.Image(ctx, ref)
	if err != nil {
		return err
	}
	tags, err := a.st.TagsOf(ctx, img.ID)
	if err != nil {
		return err
	}
	resp := []image.DeleteResponse{}
	normalized, nerr := records.NormalizeRef(ref)
	isTag := false
	for _, t := range tags {
		if nerr == nil && t == normalized {
			isTag = true
		}
	}
	// Removing one of several tags only untags, forced or not: force
	// matters only for the image itself (moby ImageDelete).
	if isTag && len(tags) > 1 {
		if err := a.st.RemoveTag(ctx, normalized); err != nil {
			return err
		}
		a.b.Event(ctx, events.ImageEventType, events.ActionUnTag, img.ID, map[string]string{"name": normalized})
		return httpx.WriteJSON(w, http.StatusOK, []image.DeleteResponse{{Untagged: normalized}})
	}
	if !isTag && len(tags) > 1 && !force {
		return errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", core.ShortDigest(img.ID))
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Image != img.ID {
			continue
		}
		if !force || c.State.Running {
			if isTag && len(tags) == 1 && !force {
				return errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, c.ID[:12], core.ShortDigest(img.ID))
			}
			if c.State.Running {
				return errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", core.ShortDigest(img.ID), c.ID[:12])
			}
			return errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", core.ShortDigest(img.ID), c.ID[:12])
		}
	}
	// The tag sweep: every tag of the image goes with it.
	for _, t := range tags {
		if err := a.st.RemoveTag(ctx, t); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		resp = append(resp, image.DeleteResponse{Untagged: t})
		a.b.Event(ctx, events.ImageEventType, events.ActionUnTag, img.ID, map[string]string{"name": t})
	}
	for _, d := range img.RepoDigests {
		resp = append(resp, image.DeleteResponse{Untagged: d})
	}
	if err := a.st.DeleteImage(ctx, img.ID); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	resp = append(resp, image.DeleteResponse{Deleted: img.ID})
	a.b.Event(ctx, events.ImageEventType, events.ActionDelete, img.ID, nil)
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

func (a *Router) getImagesHistory(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	img, err := a.st.Image(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	tags, err := a.st.TagsOf(ctx, img.ID)
	if err != nil {
		return err
	}
	hist := img.Config.History
	out := []image.HistoryResponseItem{}
	layer := len(img.Layers) - 1
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		item := image.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if !h.EmptyLayer && layer >= 0 {
			item.Size = img.Layers[layer].Size
			layer--
		}
		if i == len(hist)-1 {
			item.ID = img.ID
			item.Tags = core.NonNil(tags)
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		out = append(out, image.HistoryResponseItem{ID: img.ID, Created: img.Created.Unix(), CreatedBy: img.Comment, Tags: core.NonNil(tags), Size: img.Size})
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *Router) postImagesPrune(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, until, err := core.PruneFilters(r, a.st.Now(), "dangling")
	if err != nil {
		return err
	}
	danglingOnly := !(f["dangling"]["false"] || f["dangling"]["0"])
	imgs, err := a.st.Images(ctx)
	if err != nil {
		return err
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, c := range cs {
		used[c.Image] = true
	}
	rep := image.PruneReport{ImagesDeleted: []image.DeleteResponse{}}
	for _, img := range imgs {
		if used[img.ID] || !core.PruneMatches(f, until, img.Config.Config.Labels, img.Created) {
			continue
		}
		tags, err := a.st.TagsOf(ctx, img.ID)
		if err != nil {
			return err
		}
		if danglingOnly && len(tags) > 0 {
			continue
		}
		for _, t := range tags {
			if err := a.st.RemoveTag(ctx, t); err == nil {
				rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Untagged: t})
			}
		}
		if err := a.st.DeleteImage(ctx, img.ID); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Deleted: img.ID})
		rep.SpaceReclaimed += uint64(img.Size)
		a.b.Event(ctx, events.ImageEventType, events.ActionDelete, img.ID, nil)
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}
