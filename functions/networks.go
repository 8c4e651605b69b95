package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// Predefined networks. Their ids are fixed so every function instance
// agrees without a lookup.
var predefined = []records.Network{
	{ID: strings.Repeat("b", 64), Name: "bridge", Driver: "bridge", IPAM: []records.IPAMConfig{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}},
		Options: map[string]string{"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": "docker0"}},
	{ID: strings.Repeat("c", 64), Name: "host", Driver: "host"},
	{ID: strings.Repeat("d", 64), Name: "none", Driver: "null"},
}

func (a *API) EnsureDefaultNetworks(ctx context.Context) error {
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

func (a *API) postNetworkCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req network.CreateRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return errdefs.InvalidParameterf("network name must not be empty")
	}
	if !ValidName.MatchString(req.Name) && len(req.Name) != 1 {
		return errdefs.InvalidParameterf("invalid network name %q", req.Name)
	}
	if req.Driver == "" {
		req.Driver = "bridge"
	}
	if req.Driver != "bridge" {
		return errdefs.NotImplementedf("network driver %q is not supported by sockerless (only bridge)", req.Driver)
	}
	if _, err := a.st.Network(ctx, req.Name); err == nil {
		return errdefs.Conflictf("network with name %s already exists", req.Name)
	}
	n := &records.Network{
		ID: NewID(), Name: req.Name, Created: a.st.Now(), Driver: req.Driver, Scope: "local",
		Internal: req.Internal, Attachable: req.Attachable, Ingress: req.Ingress,
		EnableIPv4: req.EnableIPv4 == nil || *req.EnableIPv4, IPAMDriver: "default",
		Options: req.Options, Labels: req.Labels, Allocated: map[string]string{},
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return errdefs.NotImplementedf("IPv6 networks are not supported by sockerless")
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return errdefs.NotImplementedf("IPAM driver %q is not supported by sockerless", req.IPAM.Driver)
		}
		n.IPAMOptions = req.IPAM.Options
		for _, c := range req.IPAM.Config {
			if !c.Subnet.IsValid() || !c.Subnet.Addr().Is4() {
				return errdefs.InvalidParameterf("invalid subnet %v: sockerless networks need an IPv4 subnet", c.Subnet)
			}
			cfg := records.IPAMConfig{Subnet: c.Subnet.Masked().String()}
			if c.IPRange.IsValid() {
				cfg.IPRange = c.IPRange.String()
			}
			gw := c.Gateway
			if !gw.IsValid() {
				gw = c.Subnet.Masked().Addr().Next()
			} else if !c.Subnet.Contains(gw) {
				return errdefs.InvalidParameterf("gateway %s is not in subnet %s", gw, c.Subnet)
			}
			cfg.Gateway = gw.String()
			n.IPAM = append(n.IPAM, cfg)
		}
	}
	if len(n.IPAM) > 0 {
		if err := a.st.CreateNetwork(ctx, n); err != nil {
			return networkCreateErr(err, n)
		}
	} else if err := a.createInPool(ctx, n); err != nil {
		return err
	}
	a.Event(ctx, events.NetworkEventType, events.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return httpx.WriteJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID, Warning: ""})
}

func networkCreateErr(err error, n *records.Network) error {
	var nc *statestore.NameConflictError
	if errors.As(err, &nc) {
		if strings.HasPrefix(nc.Name, "subnet:") {
			return errdefs.Forbidden(fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space"))
		}
		return errdefs.Conflictf("network with name %s already exists", n.Name)
	}
	return err
}

// createInPool gives n the first free /16 of 172.18.0.0–172.31.0.0, then
// /24s of 192.168.0.0/16. The subnet is a unique name of the record, so
// racing creates on different hosts cannot get the same one.
func (a *API) createInPool(ctx context.Context, n *records.Network) error {
	var pool []string
	for i := 18; i <= 31; i++ {
		pool = append(pool, fmt.Sprintf("172.%d.0.0/16", i))
	}
	for i := 0; i < 256; i++ {
		pool = append(pool, fmt.Sprintf("192.168.%d.0/24", i))
	}
	for _, subnet := range pool {
		p := netip.MustParsePrefix(subnet)
		n.IPAM = []records.IPAMConfig{{Subnet: subnet, Gateway: p.Addr().Next().String()}}
		err := a.st.CreateNetwork(ctx, n)
		if err == nil {
			return nil
		}
		var nc *statestore.NameConflictError
		if errors.As(err, &nc) && strings.HasPrefix(nc.Name, "subnet:") {
			continue
		}
		return networkCreateErr(err, n)
	}
	return errdefs.Unavailablef("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

func (a *API) getNetwork(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	n, err := a.st.Network(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, networkInspectView(n, cs))
}

func networkView(n *records.Network) network.Network {
	v := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: n.Scope, Driver: n.Driver,
		EnableIPv4: n.EnableIPv4, EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: n.Attachable, Ingress: n.Ingress,
		IPAM:    network.IPAM{Driver: n.IPAMDriver, Options: n.IPAMOptions, Config: []network.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels,
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	for _, c := range n.IPAM {
		cfg := network.IPAMConfig{}
		cfg.Subnet, _ = netip.ParsePrefix(c.Subnet)
		cfg.IPRange, _ = netip.ParsePrefix(c.IPRange)
		cfg.Gateway, _ = netip.ParseAddr(c.Gateway)
		v.IPAM.Config = append(v.IPAM.Config, cfg)
	}
	return v
}

func networkInspectView(n *records.Network, cs []*records.Container) network.Inspect {
	v := network.Inspect{Network: networkView(n), Containers: map[string]network.EndpointResource{}}
	for _, c := range cs {
		ep, ok := c.Networks[n.Name]
		if !ok {
			continue
		}
		res := network.EndpointResource{Name: c.Name, EndpointID: ep.EndpointID}
		if addr, err := netip.ParseAddr(ep.IPAddress); err == nil {
			res.IPv4Address = netip.PrefixFrom(addr, ep.PrefixLen)
		}
		v.Containers[c.ID] = res
	}
	return v
}

func (a *API) getNetworksList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("name", "id", "label", "label!", "driver", "type", "scope", "dangling"); err != nil {
		return err
	}
	ns, err := a.st.Networks(ctx)
	if err != nil {
		return err
	}
	var cs []*records.Container
	if f.Has("dangling") {
		if cs, err = a.st.Containers(ctx); err != nil {
			return err
		}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].Name < ns[j].Name })
	out := []network.Summary{}
	for _, n := range ns {
		if !a.matchNetwork(f, n, cs) {
			continue
		}
		out = append(out, network.Summary{Network: networkView(n)})
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) matchNetwork(f httpx.Filters, n *records.Network, cs []*records.Container) bool {
	if f.Has("name") && !f.MatchPattern("name", n.Name) {
		return false
	}
	if f.Has("id") {
		ok := false
		for v := range f["id"] {
			ok = ok || strings.HasPrefix(n.ID, v)
		}
		if !ok {
			return false
		}
	}
	typ := "custom"
	if n.Predefined {
		typ = "builtin"
	}
	if !f.Match("driver", n.Driver) || !f.Match("type", typ) || !f.Match("scope", n.Scope) || !f.MatchLabels(n.Labels) {
		return false
	}
	if f.Has("dangling") {
		used := n.Predefined
		for _, c := range cs {
			if _, ok := c.Networks[n.Name]; ok {
				used = true
			}
		}
		want := f["dangling"]["true"] || f["dangling"]["1"]
		if used == want {
			return false
		}
	}
	return true
}

func (a *API) deleteNetwork(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	n, err := a.st.Network(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.removeNetwork(ctx, n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) removeNetwork(ctx context.Context, n *records.Network) error {
	if n.Predefined {
		return errdefs.Forbidden(fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if _, ok := c.Networks[n.Name]; ok {
			return errdefs.Forbidden(fmt.Errorf("error while removing network: network %s has active endpoints (name:%q id:%q)", n.Name, c.Name, c.ID[:12]))
		}
	}
	if err := a.st.DeleteNetwork(ctx, n.ID); err != nil {
		return err
	}
	a.Event(ctx, events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

func (a *API) postNetworksPrune(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("until", "label", "label!"); err != nil {
		return err
	}
	until, err := PruneUntil(f, a.st.Now())
	if err != nil {
		return err
	}
	ns, err := a.st.Networks(ctx)
	if err != nil {
		return err
	}
	rep := network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range ns {
		if n.Predefined || !f.MatchLabels(n.Labels) || (!until.IsZero() && !n.Created.Before(until)) {
			continue
		}
		if err := a.removeNetwork(ctx, n); err != nil {
			if errdefs.HTTPStatus(err) == http.StatusForbidden {
				continue // in use
			}
			return err
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}

func (a *API) postNetworkConnect(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req network.ConnectRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	n, err := a.st.Network(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err := a.st.Container(ctx, req.Container)
	if err != nil {
		return err
	}
	if _, ok := c.Networks[n.Name]; ok {
		return errdefs.Forbidden(fmt.Errorf("endpoint with name %s already exists in network %s", c.Name, n.Name))
	}
	if n.Name == "host" || n.Name == "none" || c.HostConfig.NetworkMode.IsHost() || c.HostConfig.NetworkMode.IsNone() {
		return errdefs.Forbidden(fmt.Errorf("container cannot be disconnected from host network or connected to host network"))
	}
	ep := NewEndpoint(n, c, req.EndpointConfig)
	if err := a.AttachNetwork(ctx, c, n, ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) postNetworkDisconnect(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req network.DisconnectRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	n, err := a.st.Network(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err := a.st.Container(ctx, req.Container)
	if err != nil {
		return err
	}
	if _, ok := c.Networks[n.Name]; !ok {
		return errdefs.Forbidden(fmt.Errorf("container %s is not connected to network %s", c.ID, n.Name))
	}
	if _, err := a.st.UpdateContainer(ctx, c.ID, func(c *records.Container) error {
		delete(c.Networks, n.Name)
		return nil
	}); err != nil {
		return err
	}
	if ep := c.Networks[n.Name]; ep.AddrName == "" {
		a.ReleaseEndpoint(ctx, n.ID, c.ID)
	}
	a.Event(ctx, events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	w.WriteHeader(http.StatusOK)
	return nil
}

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

// planNetworks decides which networks a new container joins (its network
// mode plus the endpoints of its networking config) and allocates their
// addresses before the container record exists, so that the record is
// created with its endpoints in one write. It returns the networks
// joined, for connectEvents to announce once the record exists. On error
// nothing stays allocated; a caller that then fails to create the record
// releases the addresses with releaseNetworks.
func (a *API) PlanNetworks(ctx context.Context, c *records.Container, nc *network.NetworkingConfig) ([]*records.Network, error) {
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

// defaultBridge is the predefined network "bridge", as stored (never
// modified).
var DefaultBridge = func() records.Network {
	n := predefined[0]
	n.Scope, n.IPAMDriver, n.EnableIPv4, n.Predefined = "local", "default", true, true
	return n
}()

// bridgeEndpoint gives ep an address on the default bridge for container
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

// addrConflict reports whether err is a name conflict on a reserved
// address (records.AddrName) rather than on the container's name.
func AddrConflict(err error) bool {
	var nc *statestore.NameConflictError
	return errors.As(err, &nc) && strings.HasPrefix(nc.Name, "ip:")
}

// connectEvents are the events announcing the endpoints of a newly
// created container, written with its record.
func (a *API) ConnectEvents(c *records.Container, nets []*records.Network) []statestore.Event {
	var evs []statestore.Event
	for _, n := range nets {
		evs = append(evs, a.NewEvent(events.NetworkEventType, events.ActionConnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})...)
	}
	return evs
}

// allocateEndpoint allocates an address for c in n (when n has IPAM),
// filling in ep.
func (a *API) allocateEndpoint(ctx context.Context, c *records.Container, n *records.Network, ep *records.Endpoint) error {
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
func (a *API) AttachNetwork(ctx context.Context, c *records.Container, n *records.Network, ep *records.Endpoint) error {
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
func (a *API) ReleaseEndpoint(ctx context.Context, networkID, containerID string) {
	_, _ = a.st.UpdateNetwork(ctx, networkID, func(n *records.Network) error {
		for ip, holder := range n.Allocated {
			if holder == containerID {
				delete(n.Allocated, ip)
			}
		}
		return nil
	})
}

func (a *API) ReleaseNetworks(ctx context.Context, c *records.Container) {
	for _, ep := range c.Networks {
		if ep.AddrName == "" { // a reserved address goes with the record
			a.ReleaseEndpoint(ctx, ep.NetworkID, c.ID)
		}
	}
}

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
