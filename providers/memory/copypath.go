package memory

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/rootfs"
	"github.com/sockerless/sockerless/providers"
)

// statCopy describes pth in container id's filesystem for docker cp
// (rootfs.StatCopy), with Docker's error classes: a missing path is
// NotFound, a path ending in "/" that is not a directory InvalidParameter
// ("not a directory").
func statCopy(f *rootfs.FS, id, pth string) (rootfs.CopySource, error) {
	cs, err := rootfs.StatCopy(f, pth)
	switch {
	case err == nil:
		return cs, nil
	case errors.Is(err, fs.ErrNotExist):
		return cs, errdefs.NotFoundf("Could not find the file %s in container %s", pth, id)
	case errors.Is(err, syscall.ENOTDIR):
		return cs, errdefs.InvalidParameterf("lstat %s: not a directory", pth)
	}
	return cs, err
}

// copyPathStat is the X-Docker-Container-Path-Stat of cs.
func copyPathStat(cs rootfs.CopySource) providers.PathStat {
	if cs.Info == nil {
		return providers.PathStat{}
	}
	return providers.PathStat{Name: cs.Name, Size: cs.Info.Size(), Mode: uint32(cs.Info.Mode()), Mtime: cs.Info.ModTime(), LinkTarget: cs.LinkTarget}
}
