package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
)

// engineImage finds the engine image for a container whose image the
// engine does not know by reference: a tag made through Sockerless names
// an engine image by id; an image Sockerless made itself from
// instructions that add no layer has the layers of an image the engine
// has. The
// container's configuration (command, environment, working folder, user)
// is the Sockerless image's already, so only the filesystem is taken
// from the engine image. Answers are cached by layer chain.
func (p *Provider) engineImage(ctx context.Context, s providers.Spec) (string, error) {
	if s.ImageID != "" {
		// A pulled image's record has the engine's id.
		if res, err := p.opts.Client.ImageInspect(ctx, s.ImageID); err == nil {
			return res.ID, nil
		}
	}
	if len(s.Layers) == 0 {
		return "", errdefs.NotFoundf("No such image: %s", s.Image)
	}
	key := strings.Join(s.Layers, ",")
	p.mu.Lock()
	id, ok := p.byLayers[key]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	list, err := p.opts.Client.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return "", fmt.Errorf("docker provider: listing the engine's images: %w", classify(err))
	}
	for _, im := range list.Items {
		res, err := p.opts.Client.ImageInspect(ctx, im.ID)
		if err != nil {
			continue // removed meanwhile
		}
		if slices.Equal(res.RootFS.Layers, s.Layers) {
			p.mu.Lock()
			p.byLayers[key] = im.ID
			p.mu.Unlock()
			return im.ID, nil
		}
	}
	return "", errdefs.NotFoundf("No such image: %s (the engine has no image with its layers)", s.Image)
}
