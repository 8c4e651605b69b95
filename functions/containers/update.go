package containers

import (
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// postContainerUpdate is docker update (moby 28.2 daemon/update.go and
// container.UpdateContainer): the body is checked before the container is
// looked up; the restart policy and resource limits are recorded. The
// restart policy takes effect at the container's next exit, as Docker's
// monitor applies it. Resource limits are recorded for inspect and the
// next start; no provider applies them to a running workload (none
// enforces cgroup limits).
func (a *Router) postContainerUpdate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var uc container.UpdateConfig
	if err := httpx.DecodeJSON(r, &uc, true); err != nil {
		return err
	}
	if httpx.VersionLess(httpx.APIVersion(ctx), "1.40") {
		uc.PidsLimit = nil
	}
	if uc.PidsLimit != nil && *uc.PidsLimit <= 0 {
		// 0 and any negative value mean "unlimited" on update.
		var unlimited int64
		uc.PidsLimit = &unlimited
	}
	if err := container.ValidateRestartPolicy(uc.RestartPolicy); err != nil {
		return errdefs.InvalidParameter(err)
	}
	if err := verifyResources(&uc.Resources); err != nil {
		return err
	}
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err = a.st.UpdateContainer(ctx, c.ID, func(c *records.Container) error {
		if c.Removing || c.State.Dead {
			//lint:ignore ST1005 Docker's message, unclassified (500) as in Docker
			return fmt.Errorf("Cannot update container %s: container is marked for removal and cannot be \"update\"", c.ID)
		}
		if err := applyUpdate(c.HostConfig, uc); err != nil {
			return errdefs.Conflictf("Cannot update container %s: %w", c.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.b.Event(ctx, events.ContainerEventType, events.ActionUpdate, c.ID, core.ContainerAttrs(c))
	// Docker answers {"Warnings":null} when there are none.
	return httpx.WriteJSON(w, http.StatusOK, container.UpdateResponse{})
}

// applyUpdate is Docker's Container.UpdateContainer: each resource set in
// the update replaces the container's; conflicting combinations and a
// restart policy on an auto-remove container are refused.
func applyUpdate(hc *container.HostConfig, uc container.UpdateConfig) error {
	res, cur := uc.Resources, &hc.Resources
	switch {
	case res.NanoCPUs > 0 && cur.CPUPeriod > 0:
		return errdefs.Conflictf("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
	case res.NanoCPUs > 0 && cur.CPUQuota > 0:
		return errdefs.Conflictf("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
	case res.CPUPeriod > 0 && cur.NanoCPUs > 0:
		return errdefs.Conflictf("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case res.CPUQuota > 0 && cur.NanoCPUs > 0:
		return errdefs.Conflictf("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	if res.BlkioWeight != 0 {
		cur.BlkioWeight = res.BlkioWeight
	}
	if res.CPUShares != 0 {
		cur.CPUShares = res.CPUShares
	}
	if res.NanoCPUs != 0 {
		cur.NanoCPUs = res.NanoCPUs
	}
	if res.CPUPeriod != 0 {
		cur.CPUPeriod = res.CPUPeriod
	}
	if res.CPUQuota != 0 {
		cur.CPUQuota = res.CPUQuota
	}
	if res.CpusetCpus != "" {
		cur.CpusetCpus = res.CpusetCpus
	}
	if res.CpusetMems != "" {
		cur.CpusetMems = res.CpusetMems
	}
	if res.Memory != 0 {
		if res.Memory > cur.MemorySwap && res.MemorySwap == 0 {
			return errdefs.Conflictf("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		cur.Memory = res.Memory
	}
	if res.MemorySwap != 0 {
		cur.MemorySwap = res.MemorySwap
	}
	if res.MemoryReservation != 0 {
		cur.MemoryReservation = res.MemoryReservation
	}
	if res.CPURealtimePeriod != 0 {
		cur.CPURealtimePeriod = res.CPURealtimePeriod
	}
	if res.CPURealtimeRuntime != 0 {
		cur.CPURealtimeRuntime = res.CPURealtimeRuntime
	}
	if res.PidsLimit != nil {
		cur.PidsLimit = res.PidsLimit
	}
	if uc.RestartPolicy.Name != "" {
		if hc.AutoRemove && uc.RestartPolicy.Name != container.RestartPolicyDisabled {
			return errdefs.Conflictf("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		hc.RestartPolicy = uc.RestartPolicy
	}
	return nil
}
