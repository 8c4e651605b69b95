package containers

import (
	"net/http"
	"strconv"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/ticket"
)

// TunnelPath is the route a shim asks for a tunnel ticket on: POST with
// the container in {id} and the query port. The shim opens one tunnel per
// connection it accepts on a published port (see docs/decisions.md,
// "Published ports are listened on by the shim").
const TunnelPath = "/_sockerless/tunnel/{id}"

// postTunnel answers a stream ticket of kind tunnel for a running
// container: one TCP connection to the port on the workload's loopback.
func (a *Router) postTunnel(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(controlapi.HeaderShim) == "" {
		return errdefs.InvalidParameterf("connecting to a container's port needs the sockerless shim")
	}
	if a.cfg.RelayURL == "" {
		return errdefs.NotImplementedf("connecting to a container's port is not supported without a relay")
	}
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil || port < 1 || port > 65535 {
		return errdefs.InvalidParameterf("tunnel: invalid port %q", r.URL.Query().Get("port"))
	}
	if c.Removing || !c.State.Running || c.State.Paused {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	return a.b.IssueTicket(w, ticket.Grant{Container: c.ID, Kind: ticket.KindTunnel, Tunnel: &ticket.Tunnel{Port: port}}, false, c.ID)
}
