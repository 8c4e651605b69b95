package core

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/providers"
)

// LayerStore returns the provider's layer store, or nil when the
// provider does not run image filesystems.
func (a *Backend) LayerStore() *layerstore.Store {
	if lk, ok := providers.As[providers.LayerKeeper](a.provider); ok {
		return lk.LayerStore()
	}
	return nil
}

// StoreLayers puts layers into the provider's layer store (a no-op
// without one), skipping those already stored; each is verified against
// its diff id.
func (a *Backend) StoreLayers(layers []v1.Layer) error {
	ls := a.LayerStore()
	if ls == nil {
		return nil
	}
	for _, l := range layers {
		diff, err := l.DiffID()
		if err != nil {
			return errdefs.InvalidParameterf("image layer: %v", err)
		}
		if ls.Has(diff.String()) {
			continue
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return ClassifyRegistryErr("layer "+diff.String(), err)
		}
		_, err = ls.Put(rc, diff.String())
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ImageLayers lists an image's layer diff ids, bottom first.
func ImageLayers(img *records.Image) []string {
	out := make([]string, 0, len(img.Config.RootFS.DiffIDs))
	for _, d := range img.Config.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

// ShortDigest is the first 12 hex digits of digest d, as Docker
// shows layer ids.
func ShortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
