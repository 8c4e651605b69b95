package memory

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/rootfs"
)

// RemoveVolume implements providers.VolumeRemover: it deletes the named
// volume's folder and everything in it. A name that is not one folder
// under the volumes folder is refused (the control plane validates names;
// this keeps the removal inside even if it did not).
func (p *Provider) RemoveVolume(_ context.Context, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return errdefs.InvalidParameterf("memory: invalid volume name %q", name)
	}
	if err := os.RemoveAll(p.volumeDir(name)); err != nil {
		return fmt.Errorf("memory: remove volume %s: %w", name, err)
	}
	return nil
}

// copyUp fills the empty volume folder volDir with what the image has at
// dest, as Docker does when it mounts an empty volume over image content
// (an image VOLUME keeps its files). Both sides go through rootfs, so
// neither a link in the image nor one in the volume leads outside. A
// volume with content, or an image without a folder at dest, is left
// as it is.
func copyUp(root, dest, volDir string) error {
	if ents, err := os.ReadDir(volDir); err != nil || len(ents) > 0 {
		return err
	}
	img, err := rootfs.New(root, nil)
	if err != nil {
		return err
	}
	defer img.Close()
	if fi, err := img.Lstat(dest); err != nil || !fi.IsDir() {
		return nil
	}
	vol, err := rootfs.New(volDir, nil)
	if err != nil {
		return err
	}
	defer vol.Close()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := rootfs.WriteTar(img, tw, dest, ".")
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = rootfs.ExtractTar(vol, "/", pr, rootfs.ExtractOptions{})
	_ = pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("memory: copying %s into its volume: %w", dest, err)
	}
	return nil
}
