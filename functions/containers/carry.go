package containers

import (
	"net/http"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// CarryPath is the route a shim asks for a carry ticket on: POST with
// the container in {id} and the query dir (a carried bind's destination)
// and op (push or pull). See docs/decisions.md, "Binds of the runner host
// are carried".
const CarryPath = "/_sockerless/carry/{id}"

// carryPullGrace is how long after its main process ended a container's
// binds may still be pulled: the agent's default wait for that pull.
const carryPullGrace = time.Minute

// postCarry answers a stream ticket of kind carry. A shim rewrote the
// container's host binds into workload-local mounts at create, so dir
// must be the destination of one of its tmpfs mounts; the workload's agent
// must exist (the container runs, or the provider's agents serve sessions
// from create).
func (a *Router) postCarry(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(controlapi.HeaderShim) == "" {
		return errdefs.InvalidParameterf("carrying binds needs the sockerless shim")
	}
	if a.cfg.RelayURL == "" {
		return errdefs.NotImplementedf("carrying binds is not supported without a relay")
	}
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	op, dir := q.Get("op"), q.Get("dir")
	if op != ticket.CarryPush && op != ticket.CarryPull {
		return errdefs.InvalidParameterf("carry: op must be %q or %q", ticket.CarryPush, ticket.CarryPull)
	}
	found := false
	for _, m := range core.ContainerMounts(c) {
		// A tmpfs the shim made of a host bind, or a named volume the
		// shim carries between the workloads that mount it.
		found = found || ((m.Type == mount.TypeTmpfs || (m.Type == mount.TypeVolume && m.Name != "")) && m.Destination == dir)
	}
	if !found {
		return errdefs.InvalidParameterf("carry: %q is not a carried mount of container %s", dir, c.ID)
	}
	early := false
	if ea, ok := providers.As[providers.EarlyAttacher](a.provider); ok {
		early = ea.AttachesBeforeStart()
	}
	// A workload's agent stays a while after its main process ended by
	// itself, for the pull at docker wait (SOCKERLESS_CARRY_PULL_WAIT).
	justEnded := op == ticket.CarryPull && !c.State.FinishedAt.IsZero() && a.st.Now().Sub(c.State.FinishedAt) < carryPullGrace
	if c.Removing || (!c.State.Running && !early && !justEnded) {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	return a.b.IssueTicket(w, ticket.Grant{Container: c.ID, Kind: ticket.KindCarry, Carry: &ticket.Carry{Op: op, Dir: dir}}, false, c.ID)
}
