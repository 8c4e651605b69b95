package docker

import (
	"maps"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/providers"
)

// hostConfig carries the container's HostConfig settings the engine
// applies itself to the engine container: --read-only, --tmpfs, the
// resource limits, --group-add and the log driver's options. The engine
// then enforces them exactly as Docker does, since it is Docker.
func hostConfig(s providers.Spec) *container.HostConfig {
	hc := &container.HostConfig{
		ReadonlyRootfs: s.ReadOnlyRootfs,
		Tmpfs:          maps.Clone(s.Tmpfs),
		GroupAdd:       append([]string(nil), s.GroupAdd...),
	}
	if len(s.LogConfig) > 0 {
		hc.LogConfig.Config = maps.Clone(s.LogConfig)
	}
	r := s.Resources
	hc.Memory, hc.NanoCPUs = r.Memory, r.NanoCPUs
	if hc.Memory == 0 {
		hc.Memory = s.Memory
	}
	if hc.NanoCPUs == 0 {
		hc.NanoCPUs = s.NanoCPUs
	}
	if r.PidsLimit > 0 {
		// The agent is one of the container's processes: the limit
		// counts it, as a PID 1 main process counts itself.
		n := r.PidsLimit
		hc.PidsLimit = &n
	}
	for _, u := range r.Ulimits {
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return hc
}
