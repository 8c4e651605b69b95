package images

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/providers"
)

// docker save writes the named images as a docker-archive (manifest.json,
// each image's config and its layers), the format docker load reads, with
// go-containerregistry's tarball package. The layers come from the
// provider's layer store, uncompressed, as they are kept.

// storedLayer is a layer of the layer store as a v1.Layer: its blob is the
// uncompressed tar, so its digest is its diff id.
type storedLayer struct {
	ls   *layerstore.Store
	diff v1.Hash
	size int64
}

func (l storedLayer) Digest() (v1.Hash, error)             { return l.diff, nil }
func (l storedLayer) DiffID() (v1.Hash, error)             { return l.diff, nil }
func (l storedLayer) Compressed() (io.ReadCloser, error)   { return l.ls.Open(l.diff.String()) }
func (l storedLayer) Uncompressed() (io.ReadCloser, error) { return l.ls.Open(l.diff.String()) }
func (l storedLayer) Size() (int64, error)                 { return l.size, nil }
func (l storedLayer) MediaType() (types.MediaType, error)  { return types.DockerUncompressedLayer, nil }

// savedImage is img as a v1.Image whose layers are read from ls.
func savedImage(ls *layerstore.Store, img *records.Image) (v1.Image, error) {
	var adds []mutate.Addendum
	for _, d := range img.Config.RootFS.DiffIDs {
		info, err := ls.Stat(d.String())
		if err != nil {
			return nil, errdefs.NotImplementedf("docker save needs the layers of image %s, and layer %s is not stored here (an image pulled while the registry was unreachable is known by its config only)", img.ID, d)
		}
		adds = append(adds, mutate.Addendum{Layer: storedLayer{ls: ls, diff: d, size: info.Size}, MediaType: types.DockerUncompressedLayer})
	}
	base, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	cfg := img.Config.DeepCopy()
	return mutate.ConfigFile(base, cfg)
}

// fileLayer is a layer the platform wrote to a file, uncompressed.
type fileLayer struct {
	path string
	diff v1.Hash
	size int64
}

func (l fileLayer) Digest() (v1.Hash, error)             { return l.diff, nil }
func (l fileLayer) DiffID() (v1.Hash, error)             { return l.diff, nil }
func (l fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l fileLayer) MediaType() (types.MediaType, error)  { return types.DockerUncompressedLayer, nil }

// platformImage is img as a v1.Image whose layers the provider's
// platform exports (providers.LayerExporter) into dir.
func platformImage(ctx context.Context, le providers.LayerExporter, dir string, img *records.Image) (v1.Image, error) {
	var diffs []string
	for _, d := range img.Config.RootFS.DiffIDs {
		diffs = append(diffs, d.String())
	}
	if err := le.ExportLayers(ctx, img.ID, diffs, dir); err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, d := range img.Config.RootFS.DiffIDs {
		p := filepath.Join(dir, d.Hex)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("layer %s of image %s: %w", d, img.ID, err)
		}
		adds = append(adds, mutate.Addendum{Layer: fileLayer{path: p, diff: d, size: fi.Size()}, MediaType: types.DockerUncompressedLayer})
	}
	base, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	return mutate.ConfigFile(base, img.Config.DeepCopy())
}

// getImagesGet serves GET /images/get?names=… and GET /images/{name}/get.
func (a *Router) getImagesGet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	names := r.URL.Query()["names"]
	if n := r.PathValue("name"); n != "" {
		names = []string{n}
	}
	ls := a.b.LayerStore()
	le, platformLayers := providers.As[providers.LayerExporter](a.provider)
	if ls == nil && !platformLayers {
		return errdefs.NotImplementedf("docker save needs a provider that keeps image layers; provider %s does not", a.provider.Name())
	}
	var dir string
	if ls == nil {
		// The platform's layers, copied here for the archive's length.
		var err error
		if dir, err = os.MkdirTemp("", "sockerless-save-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	refs := map[name.Reference]v1.Image{}
	var saved []*records.Image
	for _, n := range names {
		ref, img, err := a.saveRef(ctx, n)
		if err != nil {
			return err
		}
		var vi v1.Image
		if ls != nil {
			vi, err = savedImage(ls, img)
		} else {
			vi, err = platformImage(ctx, le, dir, img)
		}
		if err != nil {
			return err
		}
		refs[ref] = vi
		saved = append(saved, img)
	}
	if len(refs) == 0 {
		return errdefs.InvalidParameterf("no images to save: name at least one")
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := tarball.MultiRefWrite(refs, w); err != nil {
		// The answer has begun: a broken archive is all the client can
		// be told.
		a.log.Warn("image save failed", "names", names, "err", err)
		return nil
	}
	for _, img := range saved {
		a.b.Event(ctx, events.ImageEventType, events.ActionSave, img.ID, nil)
	}
	return nil
}

// saveRef resolves one name of docker save: a tag is written with its
// tag; an image id without one.
func (a *Router) saveRef(ctx context.Context, n string) (name.Reference, *records.Image, error) {
	img, err := a.st.Image(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	if norm, err := records.NormalizeRef(n); err == nil {
		if tag, err := name.NewTag(norm); err == nil {
			if t, err := a.st.Image(ctx, norm); err == nil && t.ID == img.ID {
				return tag, img, nil
			}
		}
	}
	d, err := name.NewDigest("sockerless-untagged@" + img.ID)
	if err != nil {
		return nil, nil, err
	}
	return d, img, nil
}
