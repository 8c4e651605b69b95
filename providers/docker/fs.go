package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/providers"
)

// agentDir is the folder of the agent's mount point: the engine makes
// it in every container's layer, and it is Sockerless's, not the
// workload's.
var agentDir = path.Dir(AgentMountPath)

// isAgentPath reports whether p (absolute, or relative to the root as
// an export's tar names it) is the agent's mount point or its folder.
func isAgentPath(p string) bool {
	p = path.Clean("/" + strings.TrimPrefix(p, "./"))
	return p == agentDir || strings.HasPrefix(p, agentDir+"/")
}

// Changes implements providers.PlatformFS with the engine's diff of the
// container's layer, less the agent's mount point.
func (p *Provider) Changes(ctx context.Context, id string) ([]providers.Change, error) {
	res, err := p.opts.Client.ContainerDiff(ctx, p.name(id), client.ContainerDiffOptions{})
	if err != nil {
		return nil, classify(err)
	}
	var out []providers.Change
	for _, c := range res.Changes {
		if !isAgentPath(c.Path) {
			out = append(out, providers.Change{Path: c.Path, Kind: uint8(c.Kind)})
		}
	}
	return out, nil
}

// Export implements providers.PlatformFS with the engine's export of the
// container, less the agent's mount point.
func (p *Provider) Export(ctx context.Context, id string) (io.ReadCloser, error) {
	rc, err := p.opts.Client.ContainerExport(ctx, p.name(id), client.ContainerExportOptions{})
	if err != nil {
		return nil, classify(err)
	}
	pr, pw := io.Pipe()
	go func() {
		defer rc.Close()
		pw.CloseWithError(withoutAgent(rc, pw))
	}()
	return pr, nil
}

// withoutAgent copies the tar in r to w without the agent's entries.
func withoutAgent(r io.Reader, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return fmt.Errorf("docker provider: export: %w", err)
		}
		if isAgentPath(h.Name) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// Commit implements providers.PlatformFS with the engine's commit (the
// control plane has paused the container when asked to), answering the
// engine image's layers: a container of the image Sockerless records for
// them runs that engine image (see engineImage). The layer keeps the
// agent's mount point, an empty file in an empty folder, as a layer
// committed on Docker keeps the mount points of a container's binds.
func (p *Provider) Commit(ctx context.Context, id string) (providers.Committed, error) {
	res, err := p.opts.Client.ContainerCommit(ctx, p.name(id), client.ContainerCommitOptions{NoPause: true})
	if err != nil {
		return providers.Committed{}, classify(err)
	}
	img, err := p.opts.Client.ImageInspect(ctx, res.ID)
	if err != nil {
		return providers.Committed{}, classify(err)
	}
	return providers.Committed{DiffIDs: img.RootFS.Layers, Size: img.Size}, nil
}
