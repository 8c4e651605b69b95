package memory

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/rootfs"
)

// baseName is the file in a workload's directory holding its root as
// Create made it, for a container whose image has no stored layers.
const baseName = "base.tar"

// writeBase records root (without mounts) as a layer tar: the content
// the container started from when its image is known by config only
// (pulled offline), which Docker would have taken from the image's
// layers. docker diff compares the root with it, and docker commit and
// save carry it as the image's bottom layer.
func writeBase(dir, root string) error {
	rfs, err := rootfs.New(root, nil)
	if err != nil {
		return err
	}
	defer rfs.Close()
	f, err := os.Create(filepath.Join(dir, baseName))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	ents, err := rfs.ReadDir("/")
	if err == nil {
		for _, e := range ents {
			if err = rootfs.WriteTar(rfs, tw, "/"+e.Name(), e.Name()); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("memory: recording the container's base filesystem: %w", err)
	}
	return nil
}

// BaseLayer implements providers.BaseLayerer: the tar of the root as
// Create made it, for a container whose image had no stored layers.
func (p *Provider) BaseLayer(ctx context.Context, id string) (io.ReadCloser, error) {
	w, err := p.get(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(w.dir, baseName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("memory: container %s was created from its image's layers and has no base layer of its own", id)
	}
	return f, err
}

// DefaultRoot implements providers.DefaultRooter: the busybox layout of
// the sandbox's applets, as Create gives a container of an image without
// layers.
func (p *Provider) DefaultRoot(f *rootfs.FS) error {
	return p.opts.Sandbox.InstallApplets(f)
}
