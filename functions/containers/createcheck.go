package containers

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
)

// Docker's create refuses these settings in this order (moby 28.2,
// daemon/container.go verifyContainerSettings, daemon/daemon_unix.go,
// runconfig): the checks that need no other object come first, so a bad
// body is a 400 even when the image or a referenced container is missing.

// linuxMinMemory is Docker's smallest memory limit (6 MB).
const linuxMinMemory = 6291456

// minimumHealthDuration is Docker's container.MinimumDuration.
const minimumHealthDuration = time.Millisecond

// checkDecodedCreate is the check Docker's request decoder makes
// (runconfig validateResources) before anything else.
func checkDecodedCreate(hc *container.HostConfig) error {
	if hc != nil && hc.CPUShares < 0 {
		return errdefs.InvalidParameterf("invalid CPU shares (%d): value must be a positive integer", hc.CPUShares)
	}
	return nil
}

// verifyCreateSettings is Docker's verifyContainerSettings: the settings
// checked on their own, before the image is looked up. It cleans
// WorkingDir as Docker does.
func verifyCreateSettings(cfg *container.Config, hc *container.HostConfig) error {
	if cfg.WorkingDir != "" {
		if !path.IsAbs(cfg.WorkingDir) {
			return errdefs.InvalidParameterf("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir)
		}
		cfg.WorkingDir = path.Clean(cfg.WorkingDir)
	}
	for _, kv := range cfg.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" {
			return errdefs.InvalidParameterf("invalid environment variable: %s", kv)
		}
	}
	if h := cfg.Healthcheck; h != nil {
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"Interval", h.Interval}, {"Timeout", h.Timeout}} {
			if d.v != 0 && d.v < minimumHealthDuration {
				return errdefs.InvalidParameterf("%s in Healthcheck cannot be less than %s", d.name, minimumHealthDuration)
			}
		}
		if h.Retries < 0 {
			return errdefs.InvalidParameterf("Retries in Healthcheck cannot be negative")
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
			if d.v != 0 && d.v < minimumHealthDuration {
				return errdefs.InvalidParameterf("%s in Healthcheck cannot be less than %s", d.name, minimumHealthDuration)
			}
		}
	}
	if hc == nil {
		return nil
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return errdefs.InvalidParameterf("can't create 'AutoRemove' container with restart policy")
	}
	for k := range hc.Annotations {
		if k == "" {
			return errdefs.InvalidParameterf("invalid Annotations: the empty string is not permitted as an annotation key")
		}
	}
	if err := verifyResources(&hc.Resources); err != nil {
		return err
	}
	if !hc.IpcMode.Valid() {
		return errdefs.InvalidParameterf("invalid IPC mode: %v", hc.IpcMode)
	}
	if !pidModeValid(hc.PidMode) {
		return errdefs.InvalidParameterf("invalid PID mode: %v", hc.PidMode)
	}
	if hc.ShmSize < 0 {
		return errdefs.InvalidParameterf("SHM size can not be less than 0")
	}
	if !hc.UTSMode.Valid() {
		return errdefs.InvalidParameterf("invalid UTS mode: %v", hc.UTSMode)
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return errdefs.InvalidParameterf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	for dest := range hc.Tmpfs {
		if path.Clean(strings.ReplaceAll(dest, `\`, `/`)) == "/" {
			return errdefs.InvalidParameterf("invalid specification: destination can't be '/'")
		}
		if !path.IsAbs(strings.ReplaceAll(dest, `\`, `/`)) {
			return errdefs.InvalidParameterf("invalid mount path: '%s' mount path must be absolute", dest)
		}
	}
	return nil
}

// pidModeValid is Docker's PidMode.Valid: "", "host" or "container:<x>"
// with a non-empty x.
func pidModeValid(m container.PidMode) bool {
	if m == "" || m.IsHost() {
		return true
	}
	name, ok := strings.CutPrefix(string(m), "container:")
	return ok && name != ""
}

// verifyResources is the part of Docker's verifyPlatformContainerResources
// that does not depend on the host's kernel.
func verifyResources(r *container.Resources) error {
	if r.MemorySwappiness != nil && *r.MemorySwappiness == -1 {
		// The CLI's "unset"; Docker drops it (fixMemorySwappiness).
		r.MemorySwappiness = nil
	}
	if r.Memory != 0 && r.Memory < linuxMinMemory {
		return errdefs.InvalidParameterf("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return errdefs.InvalidParameterf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.MemorySwappiness != nil && (*r.MemorySwappiness < 0 || *r.MemorySwappiness > 100) {
		return errdefs.InvalidParameterf("Invalid value: %v, valid memory swappiness range is 0-100", *r.MemorySwappiness)
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < linuxMinMemory {
		return errdefs.InvalidParameterf("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return errdefs.InvalidParameterf("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return errdefs.InvalidParameterf("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return errdefs.InvalidParameterf("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if r.NanoCPUs < 0 {
		// Docker names the host's CPU count; a serverless workload's is
		// not known here, so only the lower bound is checked.
		return errdefs.InvalidParameterf("range of CPUs is from 0.01 to the number of CPUs available")
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return errdefs.InvalidParameterf("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return errdefs.InvalidParameterf("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	return nil
}

// checkPlatform refuses an image whose platform does not match the
// ?platform= of the request ("os[/arch[/variant]]"), with Docker's 404.
func checkPlatform(want, ref string, img *records.Image) error {
	if want == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(want), "/")
	if len(parts) > 3 || parts[0] == "" {
		return errdefs.InvalidParameterf("%q: unknown operating system or architecture: invalid argument", want)
	}
	os, arch, variant := img.Config.OS, img.Config.Architecture, img.Config.Variant
	if os == "" {
		os = "linux"
	}
	match := parts[0] == os
	if len(parts) > 1 {
		wantArch := normalizeArch(parts[1])
		match = match && wantArch == normalizeArch(arch)
		if len(parts) > 2 {
			match = match && parts[2] == variant
		}
	}
	if match {
		return nil
	}
	have := os + "/" + arch
	if variant != "" {
		have += "/" + variant
	}
	wantFmt := strings.Join(parts, "/")
	if len(parts) > 1 {
		parts[1] = normalizeArch(parts[1])
		wantFmt = strings.Join(parts, "/")
	}
	return errdefs.NotFoundf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)", ref, have, wantFmt)
}

func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return a
}

// checkSecurityOpt is Docker's parseSecurityOpt without the labels it
// applies. Docker 28.2 answers an option it does not know with a 500
// (the error is not classified; measured against dockerd 28.2.2), and
// so does Sockerless, with the same message.
func checkSecurityOpt(opts []string) error {
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges", "writable-cgroups", "disable":
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return fmt.Errorf("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label", "apparmor", "seccomp", "systempaths", "mask", "unmask":
		case "no-new-privileges", "writable-cgroups":
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("invalid --security-opt 2: %q", opt)
			}
		default:
			return fmt.Errorf("invalid --security-opt 2: %q", opt)
		}
	}
	return nil
}

// resolveReferences checks the containers a create names (IPC and PID
// namespaces, links, volumes-from) as Docker's adaptContainerSettings and
// setHostConfig do, and rewrites Links in Docker's stored form
// "/<child>:/<name>/<alias>".
func (a *Router) resolveReferences(ctx context.Context, name string, hc *container.HostConfig) error {
	for _, ref := range []string{hc.IpcMode.Container(), hc.PidMode.Container()} {
		if ref == "" {
			continue
		}
		if _, err := a.st.Container(ctx, ref); err != nil {
			return errdefs.InvalidParameter(err)
		}
	}
	if err := checkSecurityOpt(hc.SecurityOpt); err != nil {
		return err
	}
	links := make([]string, 0, len(hc.Links))
	for _, l := range hc.Links {
		child, alias, err := parseLink(l)
		if err != nil {
			return err
		}
		c, err := a.st.Container(ctx, child)
		if err != nil {
			if errdefs.IsNotFound(err) {
				err = errdefs.InvalidParameter(err)
			}
			return fmt.Errorf("could not get container for %s: %w", child, err)
		}
		if c.HostConfig != nil && c.HostConfig.NetworkMode.IsHost() {
			return errdefs.InvalidParameterf("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
		links = append(links, "/"+c.Name+":/"+name+"/"+alias)
	}
	if len(hc.Links) > 0 {
		hc.Links = links
	}
	for _, v := range hc.VolumesFrom {
		ref, _, _ := strings.Cut(v, ":")
		if ref == "" {
			return errdefs.InvalidParameterf("invalid volumes-from specification: %s", v)
		}
		if _, err := a.st.Container(ctx, ref); err != nil {
			return errdefs.InvalidParameter(err)
		}
	}
	return nil
}

// renameLinks rewrites the parent part of links stored by
// resolveReferences when a generated name is retried as another.
func renameLinks(hc *container.HostConfig, name string) {
	for i, l := range hc.Links {
		child, parentAlias, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		hc.Links[i] = child + ":/" + name + "/" + path.Base(parentAlias)
	}
}

// parseLink is Docker's opts.ParseLink: "name[:alias]".
func parseLink(val string) (string, string, error) {
	if val == "" {
		return "", "", errdefs.InvalidParameterf("empty string specified for links")
	}
	arr := strings.Split(val, ":")
	if len(arr) > 2 {
		return "", "", errdefs.InvalidParameterf("bad format for links: %s", val)
	}
	name := strings.TrimPrefix(arr[0], "/")
	if len(arr) == 1 {
		return name, name, nil
	}
	// A link read back from a created container: "/child:/parent/alias".
	return name, path.Base(arr[1]), nil
}

// linkAliases maps a container name to the names it has through other
// containers' links ("/<parent>/<alias>"), which docker ps lists.
func linkAliases(cs []*records.Container) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		if c.HostConfig == nil {
			continue
		}
		for _, l := range c.HostConfig.Links {
			child, parentAlias, ok := strings.Cut(l, ":")
			if !ok || !strings.HasPrefix(child, "/") || !strings.HasPrefix(parentAlias, "/") {
				continue
			}
			out[strings.TrimPrefix(child, "/")] = append(out[strings.TrimPrefix(child, "/")], parentAlias)
		}
	}
	return out
}

// defaultMaskedPaths and defaultReadonlyPaths are the lists Docker's
// default OCI spec gives an unprivileged container (moby oci/defaults.go;
// the per-CPU thermal_throttle entries Docker adds depend on the host
// and are left out).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// defaultShmSize is Docker's default /dev/shm size (64 MiB).
const defaultShmSize = 64 << 20

// defaultNamespaces fills the host config defaults Docker records at
// create (moby adaptContainerSettings, createContainerOSSpecificSettings):
// the /dev/shm size, the swap limit, the IPC mode ("private"; "shareable"
// for clients older than API 1.40, which expect it) and, for an
// unprivileged container, the masked and read-only paths.
func defaultNamespaces(hc *container.HostConfig, apiVersion string) {
	if hc.ShmSize == 0 {
		hc.ShmSize = defaultShmSize
	}
	if hc.Memory > 0 && hc.MemorySwap == 0 {
		// Docker's default swap limit: twice the memory limit.
		hc.MemorySwap = hc.Memory * 2
	}
	if hc.IpcMode == "" {
		hc.IpcMode = container.IPCModePrivate
		if httpx.VersionLess(apiVersion, "1.40") {
			hc.IpcMode = container.IPCModeShareable
		}
	}
	if hc.MaskedPaths == nil && !hc.Privileged {
		hc.MaskedPaths = append([]string(nil), defaultMaskedPaths...)
	}
	if hc.ReadonlyPaths == nil && !hc.Privileged {
		hc.ReadonlyPaths = append([]string(nil), defaultReadonlyPaths...)
	}
}
