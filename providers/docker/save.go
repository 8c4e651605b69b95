package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// ExportLayers implements providers.LayerExporter from the engine's save
// of the engine image with those layers: its blobs/sha256/ entries are
// the layers, uncompressed, named by their diff ids.
func (p *Provider) ExportLayers(ctx context.Context, imageID string, diffIDs []string, dir string) error {
	id, err := p.engineImage(ctx, providers.Spec{Image: imageID, ImageID: imageID, Layers: diffIDs})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, d := range diffIDs {
		want[strings.TrimPrefix(d, "sha256:")] = true
	}
	res, err := p.opts.Client.ImageSave(ctx, []string{id})
	if err != nil {
		return classify(err)
	}
	defer res.Close()
	tr := tar.NewReader(res)
	for len(want) > 0 {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("docker provider: reading the engine's save of %s: %w", id, err)
		}
		hex, ok := strings.CutPrefix(h.Name, "blobs/sha256/")
		if !ok || !want[hex] || h.Typeflag != tar.TypeReg {
			continue
		}
		if err := writeFile(filepath.Join(dir, hex), tr); err != nil {
			return err
		}
		delete(want, hex)
	}
	if len(want) > 0 {
		return errdefs.NotFoundf("the engine's save of image %s lacks %d of its layers", imageID, len(want))
	}
	return nil
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("docker provider: %w", err)
	}
	return f.Close()
}
