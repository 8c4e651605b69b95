package docker

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/providers"
)

// LabelNetwork labels the engine networks the provider makes with the
// Sockerless network id they stand for.
const LabelNetwork = "dev.sockerless.network"

// userNetworks are the container's user-defined networks (those with DNS
// names: the predefined bridge, host and none have none), in the Spec's
// order.
func userNetworks(s providers.Spec) []providers.Interface {
	var out []providers.Interface
	for _, i := range s.Interfaces {
		if len(i.DNSNames) > 0 && i.NetworkID != "" {
			out = append(out, i)
		}
	}
	return out
}

// networkName is the engine network standing for Sockerless network id:
// by id, so that a network removed and created again under the same name
// (or another world's network of that name on a shared engine) is another
// engine network.
func (p *Provider) networkName(id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return p.opts.NamePrefix + "net-" + id
}

// endpoints makes sure the engine has a bridge network for each of the
// container's user networks and returns the engine endpoints to create the
// container with: on each, the container answers to its Sockerless
// names (name, short id, aliases) through the engine's embedded DNS, as
// it does on Docker. Nil when the container has no user network (it stays
// on the engine's default bridge).
func (p *Provider) endpoints(ctx context.Context, s providers.Spec) (map[string]*network.EndpointSettings, error) {
	nets := userNetworks(s)
	if len(nets) == 0 {
		return nil, nil
	}
	eps := make(map[string]*network.EndpointSettings, len(nets))
	for _, i := range nets {
		name := p.networkName(i.NetworkID)
		if err := p.ensureNetwork(ctx, name, i); err != nil {
			return nil, err
		}
		var aliases []string
		for _, n := range i.DNSNames {
			if n = strings.TrimPrefix(n, "/"); n != "" {
				aliases = append(aliases, n)
			}
		}
		eps[name] = &network.EndpointSettings{Aliases: aliases}
	}
	return eps, nil
}

// ensureNetwork creates engine network name unless it exists (made by an
// earlier container, by another runner sharing the engine, or concurrently).
func (p *Provider) ensureNetwork(ctx context.Context, name string, i providers.Interface) error {
	p.mu.Lock()
	known := p.nets[name]
	p.mu.Unlock()
	if known {
		return nil
	}
	_, err := p.opts.Client.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		_, err = p.opts.Client.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: map[string]string{LabelNetwork: i.NetworkID},
		})
		if cerrdefs.IsConflict(err) { // created meanwhile
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("docker provider: engine network for %s: %w", i.Network, classify(err))
	}
	p.mu.Lock()
	p.nets[name] = true
	p.mu.Unlock()
	return nil
}

// releaseNetworks removes the engine networks of a removed container's
// user networks that no other engine container uses any more (the engine
// refuses to remove one in use; that refusal is the answer, not an error).
func (p *Provider) releaseNetworks(ctx context.Context, netIDs []string) {
	for _, id := range netIDs {
		name := p.networkName(id)
		if _, err := p.opts.Client.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err == nil || cerrdefs.IsNotFound(err) {
			p.mu.Lock()
			delete(p.nets, name)
			p.mu.Unlock()
		}
	}
}

// forgetNetworks drops the container's engine networks from those known
// to exist.
func (p *Provider) forgetNetworks(s providers.Spec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, i := range userNetworks(s) {
		delete(p.nets, p.networkName(i.NetworkID))
	}
}
