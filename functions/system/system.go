package system

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"github.com/sockerless/sockerless/functions/httpx"
	"github.com/sockerless/sockerless/functions/internal/core"
	"github.com/sockerless/sockerless/providers"
)

func (a *Router) getPing(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Api-Version", httpx.DefaultAPIVersion)
	h.Set("Ostype", "linux")
	h.Set("Docker-Experimental", "false")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("OK"))
	}
	return nil
}

func (a *Router) getVersion(w http.ResponseWriter, r *http.Request) error {
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "Sockerless"},
		Version:       a.cfg.Version,
		APIVersion:    httpx.DefaultAPIVersion,
		MinAPIVersion: httpx.MinAPIVersion,
		Os:            "linux",
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		KernelVersion: "sockerless-" + a.provider.Name(),
		Components: []system.ComponentVersion{{
			Name:    "Engine",
			Version: a.cfg.Version,
			Details: map[string]string{
				"ApiVersion":    httpx.DefaultAPIVersion,
				"MinAPIVersion": httpx.MinAPIVersion,
				"Os":            "linux",
				"Arch":          runtime.GOARCH,
				"Provider":      a.provider.Name(),
			},
		}},
	}
	return httpx.WriteJSON(w, http.StatusOK, v)
}

func (a *Router) getInfo(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	imgs, err := a.st.Images(ctx)
	if err != nil {
		return err
	}
	info := system.Info{
		ID:           "sockerless",
		Containers:   len(cs),
		Images:       len(imgs),
		Driver:       "sockerless",
		DriverStatus: [][2]string{{"Provider", a.provider.Name()}},
		Plugins:      system.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "null"}, Log: []string{"json-file"}},
		// --memory and --pids-limit are enforced (the memory provider's
		// sandbox); --cpus where the provider says it applies it,
		// --cpu-period and --cpu-quota nowhere.
		MemoryLimit:        true,
		PidsLimit:          true,
		SwapLimit:          false,
		CPUCfsPeriod:       false,
		CPUCfsQuota:        applies(a.provider, "cpus"),
		IPv4Forwarding:     true,
		Debug:              false,
		NFd:                0,
		OomKillDisable:     false,
		NGoroutines:        runtime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "none",
		CgroupVersion:      "2",
		NEventsListener:    0,
		KernelVersion:      "sockerless-" + a.provider.Name(),
		OperatingSystem:    "Sockerless (" + a.provider.Name() + ")",
		OSVersion:          a.cfg.Version,
		OSType:             "linux",
		Architecture:       unameMachine(runtime.GOARCH),
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     &registry.ServiceConfig{IndexConfigs: map[string]*registry.IndexInfo{"docker.io": {Name: "docker.io", Official: true, Secure: true}}},
		NCPU:               runtime.NumCPU(),
		DockerRootDir:      "/var/lib/sockerless",
		Name:               "sockerless",
		ServerVersion:      a.cfg.Version,
		DefaultRuntime:     a.provider.Name(),
		Runtimes:           map[string]system.RuntimeWithStatus{a.provider.Name(): {Runtime: system.Runtime{Path: a.provider.Name()}}},
		Labels:             []string{"com.sockerless.provider=" + a.provider.Name()},
		SecurityOptions:    []string{},
	}
	for _, c := range cs {
		switch {
		case c.State.Paused:
			info.ContainersPaused++
		case c.State.Running:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, info)
}

func (a *Router) postAuth(w http.ResponseWriter, r *http.Request) error {
	var cfg registry.AuthConfig
	if err := httpx.DecodeJSON(r, &cfg, false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.PullTimeout)
	defer cancel()
	if err := a.cfg.Registry.Login(ctx, cfg); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
}

// diskUsage is /system/df in the shape API versions before 1.52 use, which
// is what the docker CLI 28 reads.
type diskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []any
}

func (a *Router) getSystemDF(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	imgs, err := a.views.Images.Summaries(ctx, httpx.Filters{}, true)
	if err != nil {
		return err
	}
	du := diskUsage{Images: imgs, Containers: []container.Summary{}, Volumes: []volume.Volume{}, BuildCache: []any{}}
	for _, i := range imgs {
		du.LayersSize += i.Size
	}
	cs, err := a.st.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		du.Containers = append(du.Containers, a.views.Containers.Summary(c, true))
	}
	vols, err := a.views.Volumes.Views(ctx, cs)
	if err != nil {
		return err
	}
	du.Volumes = vols
	return httpx.WriteJSON(w, http.StatusOK, du)
}

// events streams the event log: replay from since, then (without until)
// follow. Filters: type, event/action, container, image, network,
// volume, label.
func (a *Router) getEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := httpx.FiltersFrom(r)
	if err != nil {
		return err
	}
	if err := f.Validate("type", "event", "action", "container", "image", "network", "volume", "label", "scope", "daemon", "plugin", "service", "node", "secret", "config"); err != nil {
		return err
	}
	now := a.st.Now()
	since, err := core.ParseTime(r.URL.Query().Get("since"), now)
	if err != nil {
		return err
	}
	until, err := core.ParseTime(r.URL.Query().Get("until"), now)
	if err != nil {
		return err
	}
	if since.IsZero() {
		// Without since, only events from now on.
		since = now
	}
	return a.b.LongPoll(w, r, core.LongPollSpec{
		ContentType: "application/json",
		WatchKind:   core.EventsWatchKind,
		MaxBackoff:  2 * time.Second,
		Step: func(ctx context.Context, cursor string) ([]byte, string, bool, error) {
			entries, err := a.st.Events(ctx, cursor, since, until)
			if err != nil {
				return nil, cursor, false, err
			}
			var out []byte
			for _, e := range entries {
				cursor = e.Cursor
				if !matchEvent(f, e.Message) {
					continue
				}
				b, _ := json.Marshal(e.Message)
				out = append(out, b...)
				out = append(out, '\n')
			}
			done := !until.IsZero() && !a.st.Now().Before(until)
			return out, cursor, done, nil
		},
	})
}

func matchEvent(f httpx.Filters, m events.Message) bool {
	if !f.Match("type", string(m.Type)) {
		return false
	}
	action := string(m.Action)
	if f.Has("event") && !f.Match("event", action) && !matchPrefixAction(f["event"], action) {
		return false
	}
	if f.Has("action") && !f.Match("action", action) && !matchPrefixAction(f["action"], action) {
		return false
	}
	name := m.Actor.Attributes["name"]
	for _, k := range []events.Type{events.ContainerEventType, events.ImageEventType, events.NetworkEventType, events.VolumeEventType} {
		if f.Has(string(k)) && (m.Type != k || !f.MatchAny(string(k), m.Actor.ID, name)) {
			return false
		}
	}
	return f.MatchLabels(m.Actor.Attributes)
}

// matchPrefixAction lets "exec_start" match "exec_start: sh -c ..." as
// Docker does.
func matchPrefixAction(want map[string]bool, action string) bool {
	for w := range want {
		if len(action) > len(w) && action[:len(w)] == w && action[len(w)] == ':' {
			return true
		}
	}
	return false
}

// sweep serves SweepPath.
func (a *Router) postSweep(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.b.Sweep(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}

// SweepPath is the reconcile endpoint a scheduler calls (EventBridge,
// Cloud Scheduler, an Azure timer trigger; a timer in embedded mode). It
// authenticates like every other request but the agents'.
const SweepPath = "/_sockerless/sweep"

// unameMachine is the machine name `uname -m` prints for a Go
// architecture, which Docker's info reports as Architecture (its
// version reports GOARCH, as here).
func unameMachine(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	}
	return goarch
}

// applies reports whether provider p says it applies the flag (see
// providers.FlagApplier).
func applies(p Provider, flag string) bool {
	fa, ok := providers.As[providers.FlagApplier](p)
	return ok && fa.Applies(flag)
}
