package agents

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/direct"
	"github.com/sockerless/sockerless/relay/ticket"
)

// postAgentPeer answers an agent's request to connect its workload to a peer
// (POST /_sockerless/agent/{id}/peer?name=N&port=P, agent token): a
// tunnel ticket to port P of the running container that name N (container
// name, network alias, DNS name, address or id prefix) designates on one
// of the asking container's user networks. A name on no shared network is
// 404, so a container reaches only the containers of its networks, as
// Docker's embedded DNS resolves only those.
func (a *Router) postAgentPeer(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	self, err := a.st.Container(ctx, id)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil || port < 1 || port > 65535 || name == "" {
		return errdefs.InvalidParameterf("peer: a name and a port are required")
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	peer := findPeer(self, cs, name)
	if peer == nil {
		return errdefs.NotFoundf("peer: no container %q on the networks of %s", name, self.Name)
	}
	if peer.Removing || !peer.State.Running || peer.State.Paused {
		return errdefs.Conflictf("peer: container %s is not running", peer.Name)
	}
	st, err := a.b.Ticket(ticket.Grant{Container: peer.ID, Kind: ticket.KindTunnel, Tunnel: &ticket.Tunnel{Port: port}}, false, peer.ID)
	if err != nil {
		return err
	}
	pt := controlapi.PeerTicket{StreamTicket: st}
	if len(peer.DirectAddrs) > 0 {
		o, err := direct.NewOffer(ticket.AgentToken(a.cfg.Secret, peer.ID), peer.ID, port, peer.DirectAddrs, a.st.Now().Add(a.cfg.TicketTTL))
		if err != nil {
			return err
		}
		pt.Direct = &o
	}
	w.Header().Set("Content-Type", controlapi.MediaTicket)
	return json.NewEncoder(w).Encode(pt)
}

// findPeer is the container that name designates on one of self's user
// networks (Docker resolves names on user-defined networks only).
func findPeer(self *records.Container, cs []*records.Container, name string) *records.Container {
	for net := range self.Networks {
		switch net {
		case "bridge", "host", "none":
			continue
		}
		for _, c := range cs {
			ep, ok := c.Networks[net]
			if !ok || c.ID == self.ID {
				continue
			}
			if c.Name == name || ep.IPAddress == name || (len(name) >= 12 && strings.HasPrefix(c.ID, name)) {
				return c
			}
			for _, n := range append(append([]string(nil), ep.Aliases...), ep.DNSNames...) {
				if n == name {
					return c
				}
			}
		}
	}
	return nil
}

// PeerList is functions' answer to an agent asking for its network peers
// (GET /_sockerless/agent/{id}/peers): whether the container is on a user
// network at all (an agent that is not stops asking) and, for each
// running peer, the names that designate it and the ports it serves.
type PeerList struct {
	Networked bool   `json:"networked"`
	Peers     []Peer `json:"peers"`
}

// Peer is one running container that shares a user network with the
// asking one.
type Peer struct {
	// ID is the peer's container id; Names are its name, aliases and DNS
	// names on the shared networks, as the asker's /etc/hosts lists them.
	ID    string   `json:"id"`
	Names []string `json:"names"`
	// Ports are the TCP ports the peer exposes (EXPOSE, --expose) and the
	// ports its agent found listening, sorted.
	Ports []int `json:"ports"`
}

// PortsReport is the body an agent posts when the ports listening in its
// workload change (POST /_sockerless/agent/{id}/ports).
type PortsReport struct {
	Ports []int `json:"ports"`
}

// getAgentPeers lists the running containers on the asking container's user
// networks, with their names and ports.
func (a *Router) getAgentPeers(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	self, err := a.st.Container(ctx, id)
	if err != nil {
		return err
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, peersOf(self, cs))
}

// peersOf is self's PeerList among cs.
func peersOf(self *records.Container, cs []*records.Container) PeerList {
	out := PeerList{Peers: []Peer{}}
	byID := map[string]*Peer{}
	for net := range self.Networks {
		switch net {
		case "bridge", "host", "none":
			continue
		}
		out.Networked = true
		for _, c := range cs {
			ep, ok := c.Networks[net]
			if !ok || c.ID == self.ID || c.Removing || !c.State.Running {
				continue
			}
			p := byID[c.ID]
			if p == nil {
				p = &Peer{ID: c.ID}
				byID[c.ID] = p
				p.Names = append(p.Names, c.Name)
				ports := map[int]bool{}
				for _, n := range c.ListenPorts {
					ports[n] = true
				}
				if c.Config != nil {
					for pp := range c.Config.ExposedPorts {
						if string(pp.Proto()) == "tcp" {
							ports[int(pp.Num())] = true
						}
					}
				}
				for n := range ports {
					p.Ports = append(p.Ports, n)
				}
				slices.Sort(p.Ports)
			}
			p.Names = append(append(p.Names, ep.Aliases...), ep.DNSNames...)
		}
	}
	for _, p := range byID {
		slices.Sort(p.Names)
		p.Names = slices.Compact(p.Names)
		out.Peers = append(out.Peers, *p)
	}
	slices.SortFunc(out.Peers, func(x, y Peer) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// DirectReport is the body an agent posts when it takes direct
// connections from its peers' agents (POST /_sockerless/agent/{id}/direct):
// the addresses they dial.
type DirectReport struct {
	Addrs []string `json:"addrs"`
}

// maxDirectAddrs bounds a DirectReport (a task has a few interfaces).
const maxDirectAddrs = 16

// postAgentDirect records where the asking container's agent takes direct
// connections; peers are then offered them next to the relay.
func (a *Router) postAgentDirect(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	var rep DirectReport
	if err := httpx.DecodeJSON(r, &rep, false); err != nil {
		return err
	}
	if len(rep.Addrs) > maxDirectAddrs {
		return errdefs.InvalidParameterf("direct: %d addresses, at most %d", len(rep.Addrs), maxDirectAddrs)
	}
	for _, s := range rep.Addrs {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() {
			return errdefs.InvalidParameterf("direct: %q is not an IP address and port", s)
		}
	}
	if _, err := a.st.UpdateContainer(r.Context(), id, func(c *records.Container) error {
		c.DirectAddrs = rep.Addrs
		return nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// postAgentPorts records the ports listening in the asking container's
// workload.
func (a *Router) postAgentPorts(w http.ResponseWriter, r *http.Request) error {
	id, err := a.agentAuth(r)
	if err != nil {
		return err
	}
	var rep PortsReport
	if err := httpx.DecodeJSON(r, &rep, false); err != nil {
		return err
	}
	for _, n := range rep.Ports {
		if n < 1 || n > 65535 {
			return errdefs.InvalidParameterf("ports: %d is not a TCP port", n)
		}
	}
	ports := slices.Compact(slices.Sorted(slices.Values(rep.Ports)))
	if _, err := a.st.UpdateContainer(r.Context(), id, func(c *records.Container) error {
		c.ListenPorts = ports
		return nil
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
