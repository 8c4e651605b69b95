package containers

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/statestore"
)

func (a *Router) postContainersCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.URL.Query().Get("name")
	if name != "" && !core.ValidName.MatchString(name) {
		return errdefs.InvalidParameterf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	key, retry, err := core.IdempotencyKey(r)
	if err != nil {
		return err
	}
	if retry {
		// An earlier attempt may have created the container already.
		if c, err := a.st.ContainerByName(ctx, records.CreateKeyName(key)); err == nil {
			return httpx.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: []string{}})
		}
	}
	var req container.CreateRequest
	if err := httpx.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Config == nil {
		return errdefs.InvalidParameterf("config cannot be empty in order to create a container")
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	// Docker checks the settings on their own before it looks anything
	// up: a bad body is a 400 even when the image is missing.
	if err := checkDecodedCreate(hc); err != nil {
		return err
	}
	if err := verifyCreateSettings(req.Config, hc); err != nil {
		return err
	}
	if req.Config.Image == "" {
		return errdefs.InvalidParameterf("no image specified in container config")
	}
	img, err := a.st.Image(ctx, req.Config.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			// Docker names the normalized reference so the CLI can pull it.
			if n, nerr := records.NormalizeRef(req.Config.Image); nerr == nil {
				return records.ErrNoSuchImage(n)
			}
		}
		return err
	}
	if err := checkPlatform(r.URL.Query().Get("platform"), req.Config.Image, img); err != nil {
		return err
	}
	cfg := mergeImageConfig(req.Config, img)
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return errdefs.InvalidParameterf("no command specified")
	}
	if err := normalizeHostConfig(hc); err != nil {
		return err
	}
	// Warn about what the client asked for, not about the defaults
	// filled in next (the swap limit Docker derives from --memory).
	warnings := createWarnings(a.provider, hc)
	defaultNamespaces(hc, httpx.APIVersion(ctx))
	if err := core.CheckMounts(hc, a.cfg.HostBinds); err != nil {
		return err
	}
	id := core.NewID()
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	generated := name == ""
	if generated {
		name = randomName(id, 0)
	}
	name = strings.TrimPrefix(name, "/")
	if err := a.resolveReferences(ctx, name, hc); err != nil {
		return err
	}
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	c := &records.Container{
		ID:         id,
		Name:       name,
		Created:    a.st.Now(),
		Image:      img.ID,
		ImageRef:   req.Config.Image,
		Path:       argv[0],
		Args:       argv[1:],
		Config:     cfg,
		HostConfig: hc,
		Networks:   map[string]*records.Endpoint{},
		State:      records.State{Status: string(container.StateCreated)},
		Provider:   a.provider.Name(),
		CreateKey:  key,
	}
	core.PlanAnonymousVolumes(c)
	createdVolumes, err := a.b.VolumesFor(ctx, c)
	if err != nil {
		return err
	}
	// A create that fails leaves nothing behind: not the volumes it made,
	// not its workload.
	undoVolumes := func() { a.b.RemoveCreatedVolumes(context.WithoutCancel(ctx), createdVolumes) }
	nets, err := a.b.PlanNetworks(ctx, c, req.NetworkingConfig)
	if err != nil {
		undoVolumes()
		return err
	}
	// The network connect and create events go in the record's write.
	createEvents := func() []statestore.Event {
		return append(a.b.ConnectEvents(c, nets), a.b.NewEvent(events.ContainerEventType, events.ActionCreate, id, core.ContainerAttrs(c))...)
	}
	err = a.st.CreateContainer(ctx, c, createEvents()...)
	// A generated name that is taken is retried with another, as Docker
	// does; a name the user chose is a conflict. A default-bridge address
	// that is taken is retried with the next one; a requested one is an
	// error.
	for nameTry, addrTry := 1, 1; isNameConflict(err); {
		if core.AddrConflict(err) {
			ep := c.Networks[core.DefaultBridge.Name]
			if ep == nil || ep.IPv4Requested != "" || addrTry >= 64 {
				return errdefs.Forbidden(fmt.Errorf("address already in use: %w", err))
			}
			if berr := core.BridgeEndpoint(ep, id, addrTry); berr != nil {
				return berr
			}
			addrTry++
		} else {
			if !generated || nameTry >= 8 {
				break
			}
			c.Name = randomName(id, nameTry)
			renameLinks(hc, c.Name)
			nameTry++
		}
		err = a.st.CreateContainer(ctx, c, createEvents()...)
	}
	if err != nil {
		// The record and its name are one write, so nothing of it is
		// left; only the addresses planNetworks allocated are, and the
		// volumes volumesFor made.
		a.b.ReleaseNetworks(ctx, c)
		undoVolumes()
		if key != "" && isNameConflict(err) {
			// A concurrent attempt of the same request won the key.
			if c, kerr := a.st.ContainerByName(ctx, records.CreateKeyName(key)); kerr == nil {
				return httpx.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: []string{}})
			}
		}
		if isNameConflict(err) {
			holder := ""
			if other, oerr := a.st.ContainerByName(ctx, name); oerr == nil {
				holder = other.ID
			}
			return errdefs.Conflictf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, holder)
		}
		return err
	}
	spec := a.b.Spec(c)
	spec.Layers = core.ImageLayers(img)
	if err := a.provider.Create(ctx, spec); err != nil {
		uctx := context.WithoutCancel(ctx)
		// Whatever the provider made before failing goes: a workload
		// left behind would keep its root and could still connect.
		if rerr := a.provider.Remove(uctx, id); rerr != nil && !errdefs.IsNotFound(rerr) {
			a.log.Warn("failed create: provider remove failed", "container", id, "err", rerr)
		}
		a.b.ReleaseNetworks(uctx, c)
		// The create is in the log: its undoing is too.
		_ = a.st.DeleteContainer(uctx, id, 0, a.b.NewEvent(events.ContainerEventType, events.ActionDestroy, id, core.ContainerAttrs(c))...)
		undoVolumes()
		return fmt.Errorf("provider %s: create: %w", a.provider.Name(), err)
	}
	return httpx.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

// containerSize is what the provider measures of c's filesystem (see
// providers.Sizer), else the recorded SizeRw and no root size.
func (a *Router) containerSize(ctx context.Context, c *records.Container) (rw, rootfs int64) {
	if sz, ok := providers.As[providers.Sizer](a.provider); ok {
		if rw, rootfs, err := sz.Size(ctx, c.ID); err == nil {
			return rw, rootfs
		}
	}
	return c.SizeRw, 0
}

// createWarnings are Docker's create Warnings for the settings of hc the
// provider does not apply (a provider that does not say answers none).
func createWarnings(p Provider, hc *container.HostConfig) []string {
	out := []string{}
	fa, ok := providers.As[providers.FlagApplier](p)
	if !ok || hc == nil {
		return out
	}
	var asked []string
	add := func(cond bool, flag string) {
		if cond {
			asked = append(asked, flag)
		}
	}
	add(hc.NanoCPUs != 0, "cpus")
	add(hc.CPUQuota != 0 || hc.CPUPeriod != 0, "cpu-quota")
	add(hc.CPUShares != 0, "cpu-shares")
	add(hc.CpusetCpus != "" || hc.CpusetMems != "", "cpuset")
	add(hc.MemorySwap != 0, "memory-swap")
	add(hc.MemoryReservation != 0, "memory-reservation")
	add(hc.OomKillDisable != nil && *hc.OomKillDisable, "oom-kill-disable")
	add(hc.BlkioWeight != 0 || len(hc.BlkioDeviceReadBps) > 0 || len(hc.BlkioDeviceWriteBps) > 0, "blkio")
	add(hc.Privileged, "privileged")
	add(len(hc.CapAdd) > 0, "cap-add")
	add(len(hc.CapDrop) > 0, "cap-drop")
	add(len(hc.SecurityOpt) > 0, "security-opt")
	add(len(hc.StorageOpt) > 0, "storage-opt")
	add(len(hc.Devices) > 0, "device")
	add(len(hc.Sysctls) > 0, "sysctl")
	for _, opts := range hc.Tmpfs {
		add(strings.Contains(opts, "size="), "tmpfs size")
	}
	for _, u := range hc.Ulimits {
		if u != nil {
			add(true, "ulimit "+u.Name)
		}
	}
	for _, f := range asked {
		if !fa.Applies(f) {
			out = append(out, fmt.Sprintf("The %s provider does not apply --%s; it is ignored.", p.Name(), f))
		}
	}
	return out
}

// mergeImageConfig applies the image's defaults under the user's config:
// env merged by key (the user wins, PATH always present), entrypoint and
// cmd with Docker's rule that an entrypoint override clears the image cmd,
// labels merged, workdir, user, healthcheck and stop signal defaulted.
func mergeImageConfig(user *container.Config, img *records.Image) *container.Config {
	cfg := *user
	ic := img.Config.Config
	cfg.Env = imageEnvUnder(user.Env, ic.Env)
	if len(user.Entrypoint) == 0 && user.Entrypoint == nil {
		cfg.Entrypoint = append([]string(nil), ic.Entrypoint...)
		if len(user.Cmd) == 0 {
			cfg.Cmd = append([]string(nil), ic.Cmd...)
		}
	} else if len(user.Entrypoint) == 1 && user.Entrypoint[0] == "" {
		// --entrypoint "" resets the entrypoint and keeps only the cmd.
		cfg.Entrypoint = nil
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	labels := map[string]string{}
	for k, v := range ic.Labels {
		labels[k] = v
	}
	for k, v := range user.Labels {
		labels[k] = v
	}
	cfg.Labels = labels
	if cfg.Healthcheck == nil && ic.Healthcheck != nil {
		hc := container.HealthConfig{
			Test:        append([]string(nil), ic.Healthcheck.Test...),
			Interval:    ic.Healthcheck.Interval,
			Timeout:     ic.Healthcheck.Timeout,
			StartPeriod: ic.Healthcheck.StartPeriod,
			Retries:     ic.Healthcheck.Retries,
		}
		cfg.Healthcheck = &hc
	}
	if len(cfg.ExposedPorts) == 0 && len(ic.ExposedPorts) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		for p := range ic.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(ic.Volumes) > 0 {
		// The image's VOLUMEs are the container's too (each backed by
		// an anonymous volume unless a bind or mount covers it).
		vols := map[string]struct{}{}
		for d := range ic.Volumes {
			vols[d] = struct{}{}
		}
		for d := range user.Volumes {
			vols[d] = struct{}{}
		}
		cfg.Volumes = vols
	}
	cfg.Image = user.Image
	return &cfg
}

func normalizeHostConfig(hc *container.HostConfig) error {
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		hc.NetworkMode = "bridge"
	}
	if hc.CgroupnsMode == "" {
		// Docker's default on cgroup v2 hosts.
		hc.CgroupnsMode = container.CgroupnsModePrivate
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	if hc.LogConfig.Config == nil {
		hc.LogConfig.Config = map[string]string{}
	}
	switch hc.RestartPolicy.Name {
	case "":
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyOnFailure, container.RestartPolicyUnlessStopped:
	default:
		return errdefs.InvalidParameterf("invalid restart policy '%s'", hc.RestartPolicy.Name)
	}
	if hc.RestartPolicy.Name != container.RestartPolicyOnFailure && hc.RestartPolicy.MaximumRetryCount != 0 {
		return errdefs.InvalidParameterf("invalid restart policy: maximum retry count can only be used with 'on-failure'")
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return errdefs.InvalidParameterf("can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

func isNameConflict(err error) bool {
	var nc *statestore.NameConflictError
	return errors.As(err, &nc)
}

// randomName returns a Docker-style adjective_surname name derived from
// the id (so it needs no shared counter), with a six-hex-digit suffix; a
// retry after a collision uses the next bytes of the id.
func randomName(id string, attempt int) string {
	adjectives := []string{"admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "tender", "upbeat", "vibrant", "wizardly", "zealous"}
	names := []string{"albattani", "babbage", "curie", "darwin", "euler", "fermi", "galileo", "hopper", "hypatia", "johnson", "kepler", "lovelace", "mayer", "noether", "pasteur", "ritchie", "shannon", "thompson", "turing", "wozniak"}
	off := (attempt * 8) % (len(id) - 8)
	b, _ := hex.DecodeString(id[off : off+8])
	return adjectives[int(b[0])%len(adjectives)] + "_" + names[int(b[1])%len(names)] + "_" + id[off+2:off+8]
}

func (a *Router) getContainersByName(w http.ResponseWriter, r *http.Request) error {
	c, err := a.st.Container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var execs []*records.Exec
	if c.HadExec {
		if execs, err = a.st.ExecsOf(r.Context(), c.ID); err != nil {
			return err
		}
	}
	resp := a.inspectView(c, execs)
	if sd, ok := providers.As[providers.StorageDriverer](a.provider); ok {
		if d := sd.StorageDriver(r.Context()); d != "" {
			resp.Driver, resp.GraphDriver.Name = d, d
		}
	}
	resp.State.Pid = a.mainPID(r.Context(), c)
	if httpx.BoolValue(r, "size") {
		rw, rootfs := a.containerSize(r.Context(), c)
		resp.SizeRw, resp.SizeRootFs = &rw, &rootfs
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

func (a *Router) inspectView(c *records.Container, execs []*records.Exec) container.InspectResponse {
	st := &container.State{
		Status:     container.ContainerState(c.State.Status),
		Running:    c.State.Up(),
		Paused:     c.State.Paused,
		Restarting: c.State.Restarting,
		OOMKilled:  c.State.OOMKilled,
		Dead:       c.State.Dead,
		ExitCode:   c.State.ExitCode,
		Error:      c.State.Error,
		StartedAt:  core.FormatTime(c.State.StartedAt),
		FinishedAt: core.FormatTime(c.State.FinishedAt),
	}
	if h := c.State.Health; h != nil {
		st.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*container.HealthcheckResult{}}
		for _, l := range h.Log {
			st.Health.Log = append(st.Health.Log, &container.HealthcheckResult{Start: l.Start, End: l.End, ExitCode: l.ExitCode, Output: l.Output})
		}
	}
	execIDs := []string{}
	for _, e := range execs {
		execIDs = append(execIDs, e.ID)
	}
	mounts := core.ContainerMounts(c)
	if mounts == nil {
		mounts = []container.MountPoint{}
	}
	return container.InspectResponse{
		ID:             c.ID,
		Created:        core.FormatTime(c.Created),
		Path:           c.Path,
		Args:           core.NonNil(c.Args),
		State:          st,
		Image:          c.Image,
		ResolvConfPath: "/etc/resolv.conf",
		HostnamePath:   "/etc/hostname",
		HostsPath:      "/etc/hosts",
		LogPath:        "",
		Name:           "/" + c.Name,
		RestartCount:   c.RestartCount,
		Driver:         "sockerless",
		// The driver's data (its folders) is the platform's own: unknown.
		GraphDriver:     &storage.DriverData{Name: "sockerless", Data: map[string]string{}},
		Platform:        "linux",
		ExecIDs:         execIDs,
		HostConfig:      c.HostConfig,
		Mounts:          mounts,
		Config:          c.Config,
		NetworkSettings: a.networkSettings(c),
	}
}

func (a *Router) networkSettings(c *records.Container) *container.NetworkSettings {
	ns := &container.NetworkSettings{SandboxID: c.ID, Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{}}
	for p := range c.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	core.AddHostBindings(c, ns.Ports)
	for name, ep := range c.Networks {
		ns.Networks[name] = core.EndpointView(ep)
	}
	return ns
}

// Summary is c as `docker ps` lists it (with sizes when size is set);
// system df shows it too.
func (a *Router) Summary(c *records.Container, size bool) container.Summary {
	s := container.Summary{
		ID:      c.ID,
		Names:   []string{"/" + c.Name},
		Image:   c.ImageRef,
		ImageID: c.Image,
		Command: listCommand(c.Path, c.Args),
		Created: c.Created.Unix(),
		Ports:   core.PortSummaries(c),
		Labels:  c.Config.Labels,
		State:   container.ContainerState(c.State.Status),
		Status:  statusText(c, a.st.Now()),
		Mounts:  core.ContainerMounts(c),
	}
	if s.Mounts == nil {
		s.Mounts = []container.MountPoint{}
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	s.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}
	for name, ep := range c.Networks {
		s.NetworkSettings.Networks[name] = core.EndpointView(ep)
	}
	// Summary.Health exists from API 1.52; the health shows in Status.
	if size {
		s.SizeRw = c.SizeRw
	}
	return s
}

// statusText is the human status column of docker ps.
func statusText(c *records.Container, now time.Time) string {
	switch {
	case c.Removing:
		return "Removal In core.Progress"
	case c.State.Running && c.State.Paused:
		return "Up " + humanDuration(now.Sub(c.State.StartedAt)) + " (Paused)"
	case c.State.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, humanDuration(now.Sub(c.State.FinishedAt)))
	case c.State.Running:
		s := "Up " + humanDuration(now.Sub(c.State.StartedAt))
		if h := c.State.Health; h != nil {
			switch h.Status {
			case "starting":
				s += " (health: starting)"
			default:
				s += " (" + h.Status + ")"
			}
		}
		return s
	case c.State.Status == string(container.StateCreated):
		return "Created"
	case c.State.Status == string(container.StateDead):
		return "Dead"
	}
	return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, humanDuration(now.Sub(c.State.FinishedAt)))
}

func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func (a *Router) getContainersJSON(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("id", "name", "label", "label!", "status", "ancestor", "network", "before", "since", "exited", "health", "volume", "is-task", "expose", "publish"); err != nil {
		return err
	}
	for s := range f["status"] {
		switch container.ContainerState(s) {
		case container.StateCreated, container.StateRunning, container.StatePaused, container.StateRestarting, container.StateRemoving, container.StateExited, container.StateDead:
		default:
			return errdefs.InvalidParameterf("invalid filter 'status=%s': invalid value for state (%s): must be one of created, running, paused, restarting, removing, exited, dead", s, s)
		}
	}
	limit, err := httpx.IntValue(r, "limit", -1)
	if err != nil {
		return err
	}
	all := httpx.BoolValue(r, "all") || limit > 0 || f.Has("status") || f.Has("exited")
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	// Newest first, as Docker lists.
	sort.Slice(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
	var before, since *records.Container
	if f.Has("before") {
		if before, err = a.st.Container(ctx, f.Values("before")[0]); err != nil {
			return err
		}
	}
	if f.Has("since") {
		if since, err = a.st.Container(ctx, f.Values("since")[0]); err != nil {
			return err
		}
	}
	var ancestors []string
	for ref := range f["ancestor"] {
		if img, err := a.st.Image(ctx, ref); err == nil {
			ancestors = append(ancestors, img.ID)
		}
	}
	out := []container.Summary{}
	aliases := linkAliases(cs)
	annotations := !httpx.VersionLess(httpx.APIVersion(ctx), "1.46")
	for _, c := range cs {
		if !all && !c.State.Up() {
			continue
		}
		if !a.matchContainer(f, c, before, since, ancestors) {
			continue
		}
		sum := a.Summary(c, httpx.BoolValue(r, "size"))
		if httpx.BoolValue(r, "size") {
			sum.SizeRw, sum.SizeRootFs = a.containerSize(r.Context(), c)
		}
		// A linked container is also listed under its link names.
		sum.Names = append(sum.Names, aliases[c.Name]...)
		if annotations && c.HostConfig != nil && len(c.HostConfig.Annotations) > 0 {
			sum.HostConfig.Annotations = c.HostConfig.Annotations
		}
		out = append(out, sum)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *Router) matchContainer(f httpx.Filters, c *records.Container, before, since *records.Container, ancestors []string) bool {
	if f.Has("id") {
		ok := false
		for v := range f["id"] {
			if strings.HasPrefix(c.ID, v) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if !f.MatchPattern("name", "/"+c.Name) || !f.MatchLabels(c.Config.Labels) {
		return false
	}
	if !f.Match("status", c.State.Status) {
		return false
	}
	if f.Has("exited") && (c.State.Up() || c.State.Status == string(container.StateCreated) || !f.Match("exited", fmt.Sprint(c.State.ExitCode))) {
		return false
	}
	if f.Has("health") {
		h := "none"
		if c.State.Health != nil {
			h = c.State.Health.Status
		}
		if !f.Match("health", h) {
			return false
		}
	}
	if f.Has("ancestor") {
		ok := f.Match("ancestor", c.ImageRef)
		for _, id := range ancestors {
			ok = ok || id == c.Image
		}
		if !ok {
			return false
		}
	}
	if f.Has("network") {
		ok := false
		for name, ep := range c.Networks {
			ok = ok || f.MatchAny("network", name, ep.NetworkID)
		}
		if !ok {
			return false
		}
	}
	if f.Has("volume") {
		ok := false
		for _, m := range core.ContainerMounts(c) {
			ok = ok || f.MatchAny("volume", m.Name, m.Destination, m.Source)
		}
		if !ok {
			return false
		}
	}
	if before != nil && !c.Created.Before(before.Created) {
		return false
	}
	if since != nil && !c.Created.After(since.Created) {
		return false
	}
	return true
}

func (a *Router) postContainerRename(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	newName := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if newName == "" {
		return errdefs.InvalidParameterf("Neither old nor new names may be empty")
	}
	// Docker looks the container up before it validates the new name.
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !core.ValidName.MatchString(newName) {
		return errdefs.InvalidParameterf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName)
	}
	if c.Name == newName {
		return errdefs.InvalidParameterf("Renaming a container with the same name as its current name")
	}
	oldName := c.Name
	_, err = a.st.UpdateContainer(ctx, c.ID, func(c *records.Container) error { c.Name = newName; return nil })
	if err != nil {
		if isNameConflict(err) {
			holder := ""
			if other, oerr := a.st.ContainerByName(ctx, newName); oerr == nil {
				holder = other.ID
			}
			return errdefs.Conflictf("Error when allocating new name: Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", newName, holder)
		}
		return err
	}
	attrs := core.ContainerAttrs(c)
	attrs["name"], attrs["oldName"] = newName, "/"+oldName
	a.b.Event(ctx, events.ContainerEventType, events.ActionRename, c.ID, attrs)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) deleteContainers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := a.st.Container(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.State.Up() && !httpx.BoolValue(r, "force") {
		// Docker 28 names the container as the request does.
		if c.State.Restarting {
			return errdefs.Conflictf("cannot remove container %q: container is restarting: stop the container before removing or force remove", r.PathValue("id"))
		}
		if c.State.Paused {
			return errdefs.Conflictf("cannot remove container %q: container is paused and must be unpaused first", r.PathValue("id"))
		}
		return errdefs.Conflictf("cannot remove container %q: container is running: stop the container before removing or force remove", r.PathValue("id"))
	}
	if err := a.b.RemoveContainer(ctx, c, true); err != nil {
		return err
	}
	if httpx.BoolValue(r, "v") {
		a.b.RemoveAnonymousVolumes(ctx, c)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Router) postContainersPrune(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f, until, err := core.PruneFilters(r, a.st.Now())
	if err != nil {
		return err
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range cs {
		if c.State.Up() || !core.PruneMatches(f, until, c.Config.Labels, c.Created) {
			continue
		}
		// Docker reclaims each container's writable layer.
		rw, _ := a.containerSize(ctx, c)
		if err := a.b.RemoveContainer(ctx, c, false); err != nil {
			return err
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(max(rw, 0))
	}
	a.b.Event(ctx, events.ContainerEventType, events.ActionPrune, "", map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)})
	return httpx.WriteJSON(w, http.StatusOK, rep)
}

// listCommand is a listing's Command as moby words it: the path, then
// the arguments, each with a space in single quotes.
func listCommand(path string, args []string) string {
	parts := []string{path}
	for _, a := range args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// imageEnvUnder is moby's merge of a container's env with its image's:
// the request's variables as given, then the image's whose names the
// request does not set; PATH gets Docker's default when neither does
// (core.MergeEnv's rule).
func imageEnvUnder(user, image []string) []string {
	if len(user) == 0 {
		return core.MergeEnv(image)
	}
	set := map[string]bool{}
	for _, kv := range user {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := append([]string(nil), user...)
	for _, kv := range image {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
			set[k] = true
		}
	}
	if !set["PATH"] {
		out = append([]string{"PATH=" + core.DefaultPath}, out...)
	}
	return out
}
