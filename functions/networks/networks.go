package networks

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
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

func (a *Router) postNetworkCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req network.CreateRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return errdefs.InvalidParameterf("network name must not be empty")
	}
	if !core.ValidName.MatchString(req.Name) && len(req.Name) != 1 {
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
		ID: core.NewID(), Name: req.Name, Created: a.st.Now(), Driver: req.Driver, Scope: "local",
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
	a.b.Event(ctx, events.NetworkEventType, events.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
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
func (a *Router) createInPool(ctx context.Context, n *records.Network) error {
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

func (a *Router) getNetwork(w http.ResponseWriter, r *http.Request) error {
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

func (a *Router) getNetworksList(w http.ResponseWriter, r *http.Request) error {
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

func (a *Router) matchNetwork(f httpx.Filters, n *records.Network, cs []*records.Container) bool {
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

func (a *Router) deleteNetwork(w http.ResponseWriter, r *http.Request) error {
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

func (a *Router) removeNetwork(ctx context.Context, n *records.Network) error {
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
	a.b.Event(ctx, events.NetworkEventType, events.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	return nil
}

func (a *Router) postNetworksPrune(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, until, err := core.PruneFilters(r, a.st.Now())
	if err != nil {
		return err
	}
	ns, err := a.st.Networks(ctx)
	if err != nil {
		return err
	}
	rep := network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range ns {
		if n.Predefined || !core.PruneMatches(f, until, n.Labels, n.Created) {
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

func (a *Router) postNetworkConnect(w http.ResponseWriter, r *http.Request) error {
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
	ep := core.NewEndpoint(n, c, req.EndpointConfig)
	if err := a.b.AttachNetwork(ctx, c, n, ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *Router) postNetworkDisconnect(w http.ResponseWriter, r *http.Request) error {
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
		a.b.ReleaseEndpoint(ctx, n.ID, c.ID)
	}
	a.b.Event(ctx, events.NetworkEventType, events.ActionDisconnect, n.ID, map[string]string{"name": n.Name, "type": n.Driver, "container": c.ID})
	w.WriteHeader(http.StatusOK)
	return nil
}
