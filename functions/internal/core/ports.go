package core

import (
	"net/netip"
	"sort"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/sockerless/sockerless/functions/records"
)

// PortsLabel marks a container whose port bindings a shim listens on
// (set at create by a shim that publishes ports). Without it nothing
// listens on the host ports, and they are not shown.
const PortsLabel = "io.sockerless.ports"

// HostBindings lists the host side of a running container's published
// ports, as Docker shows them in NetworkSettings.Ports: a binding on all
// addresses is shown for 0.0.0.0 and for ::. A binding whose host port is
// not a number (a shim that does not listen itself left it to be chosen)
// is left out: the port is not known here.
func HostBindings(c *records.Container) network.PortMap {
	out := network.PortMap{}
	if !c.State.Running || c.Config.Labels[PortsLabel] == "" {
		return out
	}
	for p, bs := range c.HostConfig.PortBindings {
		var list []network.PortBinding
		for _, b := range bs {
			if n, err := strconv.Atoi(b.HostPort); err != nil || n <= 0 {
				continue
			}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				list = append(list, b)
				continue
			}
			list = append(list, network.PortBinding{HostIP: netip.IPv4Unspecified(), HostPort: b.HostPort},
				network.PortBinding{HostIP: netip.IPv6Unspecified(), HostPort: b.HostPort})
		}
		if len(list) > 0 {
			out[p] = list
		}
	}
	return out
}

// AddHostBindings sets the published ports' bindings in ports.
func AddHostBindings(c *records.Container, ports network.PortMap) {
	for p, bs := range HostBindings(c) {
		ports[p] = bs
	}
}

// PortSummaries is a container list entry's Ports: while it runs, each
// published port with its host side and each exposed port without one.
func PortSummaries(c *records.Container) []container.PortSummary {
	out := []container.PortSummary{}
	if !c.State.Running {
		return out
	}
	hb := HostBindings(c)
	for p, bs := range hb {
		for _, b := range bs {
			n, _ := strconv.Atoi(b.HostPort)
			out = append(out, container.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(n), Type: string(p.Proto())})
		}
	}
	for p := range c.Config.ExposedPorts {
		if _, ok := hb[p]; !ok {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		return a.IP.Less(b.IP)
	})
	return out
}
