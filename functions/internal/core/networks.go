package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// predefined are the predefined networks. Their ids are fixed so every function instance
// agrees without a lookup.
var predefined = []records.Network{
	{ID: strings.Repeat("b", 64), Name: "bridge", Driver: "bridge", IPAM: []records.IPAMConfig{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}},
		Options: map[string]string{"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": "docker0"}},
	{ID: strings.Repeat("c", 64), Name: "host", Driver: "host"},
	{ID: strings.Repeat("d", 64), Name: "none", Driver: "null"},
}

// EnsureDefaultNetworks creates the predefined networks (bridge, host,
// none) when they are missing.
func (a *Backend) EnsureDefaultNetworks(ctx context.Context) error {
	for _, n := range predefined {
		n := n
		n.Scope, n.IPAMDriver, n.EnableIPv4, n.Predefined = "local", "default", true, true
		n.Created = a.st.Now()
		if err := a.st.CreateNetwork(ctx, &n); err != nil && !errdefs.IsConflict(err) {
			return err
		}
	}
	return nil
}

// NewEndpoint is c's endpoint on n with the user's settings cfg
// (aliases, addresses, MAC).
func NewEndpoint(n *records.Network, c *records.Container, cfg *network.EndpointSettings) *records.Endpoint {
	ep := &records.Endpoint{NetworkID: n.ID, EndpointID: NewID()}
	if cfg != nil {
		ep.Aliases = append(ep.Aliases, cfg.Aliases...)
		if cfg.IPAMConfig != nil && cfg.IPAMConfig.IPv4Address.IsValid() {
			ep.IPv4Requested = cfg.IPAMConfig.IPv4Address.String()
		}
		if len(cfg.MacAddress) > 0 {
			ep.MacAddress = cfg.MacAddress.String()
		}
	}
	if !n.Predefined {
		ep.DNSNames = append([]string{c.Name, c.ID[:12]}, ep.Aliases...)
	}
	return ep
}

// PlanNetworks decides which networks a new container joins (its network
// mode plus the endpoints of its networking config) and allocates their
// addresses before the container record exists, so that the record is
// created with its endpoints in one write. It returns the networks
// joined, for connectEvents to announce once the record exists. On error
// nothing stays allocated; a caller that then fails to create the record
// releases the addresses with releaseNetworks.
func (a *Backend) PlanNetworks(ctx context.Context, c *records.Container, nc *network.NetworkingConfig) ([]*records.Network, error) {
	mode := c.HostConfig.NetworkMode
	if mode.IsContainer() {
		return nil, nil
	}
	eps := map[string]*network.EndpointSettings{}
	if nc != nil {
		for name, ep := range nc.EndpointsConfig {
			// The CLI names the mode's own endpoint "default".
			if name == "default" {
				name = string(mode)
			}
			eps[name] = ep
		}
	}
	names := []string{string(mode)}
	for name := range eps {
		if name != string(mode) {
			names = append(names, name)
		}
	}
	var joined []*records.Network
	for _, name := range names {
		if name == DefaultBridge.Name {
			// The default bridge is fixed: no lookup, and its address is
			// reserved as a name of the record about to be created.
			n := &DefaultBridge
			ep := NewEndpoint(n, c, eps[name])
			if err := BridgeEndpoint(ep, c.ID, 0); err != nil {
				a.ReleaseNetworks(ctx, c)
				return nil, err
			}
			c.Networks[n.Name] = ep
			joined = append(joined, n)
			continue
		}
		n, err := a.st.Network(ctx, name)
		if err == nil {
			ep := NewEndpoint(n, c, eps[name])
			if err = a.allocateEndpoint(ctx, c, n, ep); err == nil {
				c.Networks[n.Name] = ep
				joined = append(joined, n)
				continue
			}
		}
		a.ReleaseNetworks(ctx, c)
		return nil, err
	}
	return joined, nil
}

// DefaultBridge is the predefined network "bridge", as stored (never
// modified).
var DefaultBridge = func() records.Network {
	n := predefined[0]
	n.Scope, n.IPAMDriver, n.EnableIPv4, n.Predefined = "local", "default", true, true
	return n
}()

// BridgeEndpoint gives ep an address on the default bridge for container
// id: the requested one, or one picked from the id (attempt moves to the
// next), since no shared allocation map is read. ep.AddrName reserves it:
// a taken address shows as a name conflict on it when the container
// record is written.
func BridgeEndpoint(ep *records.Endpoint, id string, attempt int) error {
	p := netip.MustParsePrefix(DefaultBridge.IPAM[0].Subnet)
	var ip netip.Addr
	if ep.IPv4Requested != "" {
		addr, err := netip.ParseAddr(ep.IPv4Requested)
		if err != nil || !p.Contains(addr) {
			return errdefs.InvalidParameterf("requested address %s is not in subnet %s", ep.IPv4Requested, p)
		}
		if addr.String() == DefaultBridge.IPAM[0].Gateway || addr == p.Addr() {
			return errdefs.Forbidden(fmt.Errorf("address %s already in use", addr))
		}
		ip = addr
	} else {
		// Hosts .0.2 to .255.254 of the /16: 65533 addresses.
		const hosts = 1<<16 - 3
		var h uint32
		for i := 0; i < 8 && i < len(id); i++ {
			h = h<<4 | uint32(hexVal(id[i]))
		}
		off := 2 + (h+uint32(attempt))%hosts
		b := p.Addr().As4()
		b[2], b[3] = byte(off>>8), byte(off)
		ip = netip.AddrFrom4(b)
	}
	a4 := ip.As4()
	ep.IPAddress, ep.PrefixLen, ep.Gateway = ip.String(), p.Bits(), DefaultBridge.IPAM[0].Gateway
	ep.MacAddress = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", a4[0], a4[1], a4[2], a4[3])
	ep.AddrName = records.AddrName(DefaultBridge.Name, ip.String())
	return nil
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0
}

// AddrConflict reports whether err is a name conflict on a reserved
// address (records.AddrName) rather than on the container's name.
func AddrConflict(err error) bool {
	var nc *statestore.NameConflictError
	return errors.As(err, &nc) && strings.HasPrefix(nc.Name, "ip:")
}

// ConnectEvents are the events announcing the endpoints of a newly
// created container, written with its record.
func (a *Backend) ConnectEvents(c *records.Container, nets []*records.Network) []statestore.Event {
	var evs []statestore.Event
	for _, n := range nets {
		evs = append(evs, a.NewEvent(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})...)
	}
	return evs
}

// allocateEndpoint allocates an address for c in n (when n has IPAM),
// filling in ep.
func (a *Backend) allocateEndpoint(ctx context.Context, c *records.Container, n *records.Network, ep *records.Endpoint) error {
	if len(n.IPAM) == 0 {
		return nil
	}
	var ip string
	nn, err := a.st.UpdateNetwork(ctx, n.ID, func(n *records.Network) error {
		var err error
		ip, err = allocate(n, c.ID, ep.IPv4Requested)
		return err
	})
	if err != nil {
		return err
	}
	p := netip.MustParsePrefix(nn.IPAM[0].Subnet)
	ep.IPAddress, ep.PrefixLen, ep.Gateway = ip, p.Bits(), nn.IPAM[0].Gateway
	if ep.MacAddress == "" {
		addr := netip.MustParseAddr(ip).As4()
		ep.MacAddress = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", addr[0], addr[1], addr[2], addr[3])
	}
	return nil
}

// attach allocates an address for existing container c in n and records
// the endpoint.
func (a *Backend) AttachNetwork(ctx context.Context, c *records.Container, n *records.Network, ep *records.Endpoint) error {
	bridge := n.ID == DefaultBridge.ID
	if !bridge {
		if err := a.allocateEndpoint(ctx, c, n, ep); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < 16; attempt++ {
		if bridge {
			if err = BridgeEndpoint(ep, c.ID, attempt); err != nil {
				return err
			}
		}
		_, err = a.st.UpdateContainer(ctx, c.ID, func(c *records.Container) error {
			if c.Networks == nil {
				c.Networks = map[string]*records.Endpoint{}
			}
			c.Networks[n.Name] = ep
			return nil
		})
		if !bridge || !AddrConflict(err) || ep.IPv4Requested != "" {
			break
		}
	}
	if bridge && AddrConflict(err) {
		return errdefs.Forbidden(fmt.Errorf("address %s already in use", ep.IPAddress))
	}
	if err != nil {
		if !bridge {
			a.ReleaseEndpoint(ctx, n.ID, c.ID)
		}
		return err
	}
	if c.Networks == nil {
		c.Networks = map[string]*records.Endpoint{}
	}
	c.Networks[n.Name] = ep
	a.Event(ctx, events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	return nil
}

// allocate picks the requested address or the lowest free one in n's
// first subnet, skipping the network and gateway addresses.
func allocate(n *records.Network, containerID, requested string) (string, error) {
	if n.Allocated == nil {
		n.Allocated = map[string]string{}
	}
	for ip, holder := range n.Allocated {
		if holder == containerID {
			return ip, nil
		}
	}
	p, err := netip.ParsePrefix(n.IPAM[0].Subnet)
	if err != nil {
		return "", err
	}
	if requested != "" {
		addr, err := netip.ParseAddr(requested)
		if err != nil || !p.Contains(addr) {
			return "", errdefs.InvalidParameterf("requested address %s is not in subnet %s", requested, p)
		}
		if _, taken := n.Allocated[requested]; taken || requested == n.IPAM[0].Gateway {
			return "", errdefs.Forbidden(fmt.Errorf("address %s already in use", requested))
		}
		n.Allocated[requested] = containerID
		return requested, nil
	}
	for addr := p.Addr().Next(); p.Contains(addr); addr = addr.Next() {
		s := addr.String()
		if _, taken := n.Allocated[s]; taken || s == n.IPAM[0].Gateway {
			continue
		}
		if !p.Contains(addr.Next()) {
			break // broadcast
		}
		n.Allocated[s] = containerID
		return s, nil
	}
	return "", errdefs.Unavailablef("no available IPv4 addresses on network %s", n.Name)
}

// release frees container's address in network id.
func (a *Backend) ReleaseEndpoint(ctx context.Context, networkID, containerID string) {
	_, _ = a.st.UpdateNetwork(ctx, networkID, func(n *records.Network) error {
		for ip, holder := range n.Allocated {
			if holder == containerID {
				delete(n.Allocated, ip)
			}
		}
		return nil
	})
}

// ReleaseNetworks releases the addresses c holds on its networks.
func (a *Backend) ReleaseNetworks(ctx context.Context, c *records.Container) {
	for _, ep := range c.Networks {
		if ep.AddrName == "" { // a reserved address goes with the record
			a.ReleaseEndpoint(ctx, ep.NetworkID, c.ID)
		}
	}
}

// EndpointView is ep as inspect shows it.
func EndpointView(ep *records.Endpoint) *network.EndpointSettings {
	v := &network.EndpointSettings{
		NetworkID: ep.NetworkID, EndpointID: ep.EndpointID, IPPrefixLen: ep.PrefixLen,
		Aliases: ep.Aliases, DNSNames: ep.DNSNames,
	}
	v.IPAddress, _ = netip.ParseAddr(ep.IPAddress)
	v.Gateway, _ = netip.ParseAddr(ep.Gateway)
	if ep.MacAddress != "" {
		if hw, err := parseMAC(ep.MacAddress); err == nil {
			v.MacAddress = hw
		}
	}
	if ep.IPv4Requested != "" {
		addr, _ := netip.ParseAddr(ep.IPv4Requested)
		v.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: addr}
	}
	return v
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var hw network.HardwareAddr
	err := hw.UnmarshalText([]byte(s))
	return hw, err
}
