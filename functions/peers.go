package functions

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// agentPeer answers an agent's request to connect its workload to a peer
// (POST /_sockerless/agent/{id}/peer?name=N&port=P, agent token): a
// tunnel ticket to port P of the running container that name N (container
// name, network alias, DNS name, address or id prefix) designates on one
// of the asking container's user networks. A name on no shared network is
// 404, so a container reaches only the containers of its networks, as
// Docker's embedded DNS resolves only those.
func (a *API) agentPeer(w http.ResponseWriter, r *http.Request) error {
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
	return a.issueTicket(w, ticket.Grant{Container: peer.ID, Kind: ticket.KindTunnel, Tunnel: &ticket.Tunnel{Port: port}}, false, peer.ID)
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
