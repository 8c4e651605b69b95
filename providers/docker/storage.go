package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// StorageDriver implements providers.StorageDriverer: the engine's
// storage driver (its info's Driver), asked once.
func (p *Provider) StorageDriver(ctx context.Context) string {
	p.mu.Lock()
	d := p.driver
	p.mu.Unlock()
	if d != "" {
		return d
	}
	info, err := p.opts.Client.Info(ctx, client.InfoOptions{})
	if err != nil {
		return ""
	}
	p.mu.Lock()
	p.driver = info.Info.Driver
	p.mu.Unlock()
	return info.Info.Driver
}
