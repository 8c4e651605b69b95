package docker

import (
	"context"
	"errors"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/providers"
)

// IdleArchive implements providers.IdleArchiver: a workload that is not
// running has no agent to serve docker cp, so the engine's archive
// endpoints serve it, as Docker serves a created or exited container.
func (p *Provider) IdleArchive() providers.Archiver { return engineArchiver{p} }

// engineArchiver is providers.Archiver on the engine container.
type engineArchiver struct{ p *Provider }

// archiveError classifies an engine archive error; the engine's own
// message (a bad upload's "unexpected EOF") is passed on without the
// client's prefix, as Docker answers it.
func archiveError(err error) error {
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsInvalidArgument(err) || cerrdefs.IsConflict(err) {
		return classify(err)
	}
	return errors.New(engineMessage(err))
}

// StatPath implements providers.Archiver.
func (a engineArchiver) StatPath(ctx context.Context, id, path string) (providers.PathStat, error) {
	res, err := a.p.opts.Client.ContainerStatPath(ctx, a.p.name(id), client.ContainerStatPathOptions{Path: path})
	if err != nil {
		return providers.PathStat{}, archiveError(err)
	}
	st := res.Stat
	return providers.PathStat{Name: st.Name, Size: st.Size, Mode: uint32(st.Mode), Mtime: st.Mtime, LinkTarget: st.LinkTarget}, nil
}

// GetArchive implements providers.Archiver; a tar of the root leaves the
// agent's mount point out.
func (a engineArchiver) GetArchive(ctx context.Context, id, path string) (io.ReadCloser, providers.PathStat, error) {
	res, err := a.p.opts.Client.CopyFromContainer(ctx, a.p.name(id), client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, providers.PathStat{}, archiveError(err)
	}
	st := res.Stat
	stat := providers.PathStat{Name: st.Name, Size: st.Size, Mode: uint32(st.Mode), Mtime: st.Mtime, LinkTarget: st.LinkTarget}
	if strings.Trim(path, "/.") != "" {
		return res.Content, stat, nil
	}
	pr, pw := io.Pipe()
	go func() {
		defer res.Content.Close()
		pw.CloseWithError(withoutAgent(res.Content, pw))
	}()
	return pr, stat, nil
}

// PutArchive implements providers.Archiver.
func (a engineArchiver) PutArchive(ctx context.Context, id, path string, tarball io.Reader, noOverwriteDirNonDir bool) error {
	_, err := a.p.opts.Client.CopyToContainer(ctx, a.p.name(id), client.CopyToContainerOptions{DestinationPath: path, Content: tarball, AllowOverwriteDirWithFile: !noOverwriteDirNonDir})
	return archiveError(err)
}
