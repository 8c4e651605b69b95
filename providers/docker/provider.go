// Package docker is the provider whose workloads are containers on a real
// Docker engine (SOCKERLESS_DOCKER_HOST: a local socket, or TCP with TLS).
// Sockerless keeps its own records in its store as with every provider, so
// many runners share one world and one pool of engines; the engine only
// runs the processes.
//
// Each workload carries the real sockerless-agent, bind-mounted read-only
// from the host at AgentMountPath and wrapping the container's entrypoint
// exactly as a cloud workload's agent does: it dials the relay with the
// container's agent token and serves exec, attach and docker cp there, runs
// the health check and reports exec exits and health results to the control
// plane. Streams therefore take the same path as on every cloud provider;
// the engine's own exec and archive endpoints are not used. The main
// process's exit is reported by the agent and, should the agent be killed
// (docker kill -s KILL), from the engine's wait; reports are idempotent.
package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay/ticket"
)

// AgentMountPath is where the agent binary appears inside every workload.
const AgentMountPath = "/.sockerless/sockerless-agent"

// LabelID labels engine containers with the Sockerless container id they
// run, so that an engine shared by several Sockerless worlds can be told
// apart.
const LabelID = "dev.sockerless.container"

// Options configure a Provider.
type Options struct {
	// Client talks to the engine (see NewClient).
	Client *client.Client
	// Reporter receives main-process exits the agent could not report.
	Reporter providers.Reporter
	// Secret derives each container's agent token.
	Secret []byte
	// RelayURL is the relay's base URL as workloads reach it.
	RelayURL string
	// ControlPlaneURL is the functions endpoint as workloads reach it
	// (agent exit, exec exit and health reports).
	ControlPlaneURL string
	// AgentPath is the host path of a statically linked sockerless-agent;
	// it must be readable by the engine (a local engine, or the same path
	// on the engine's host).
	AgentPath string
	// AgentLogLevel is the agents' log level (default "error": their log
	// shares the container's stderr).
	AgentLogLevel string
	// NamePrefix prefixes engine container names (default "sockerless-").
	NamePrefix string
	// RelaySocket is the host path of a unix socket serving the relay
	// and the agents' report endpoints, as RelayURL and ControlPlaneURL
	// do, for workloads without a network (--network none), whose agent
	// reaches it through a bind mount of its folder. Empty: such
	// workloads get the engine's default bridge (an engine on another
	// host cannot mount the socket).
	RelaySocket string
}

// relayMountDir is where a workload without a network finds the folder
// of Options.RelaySocket.
const relayMountDir = "/.sockerless/relay"

// Provider runs workloads as engine containers. Safe for concurrent use.
type Provider struct {
	opts Options

	mu   sync.Mutex
	runs map[string]*run // current run per container id
	// nets are engine networks known to exist (made or seen here).
	nets map[string]bool
	// netsOf are the Sockerless network ids of each created container's
	// user networks, whose engine networks its removal may release.
	netsOf map[string][]string
	// pending counts engine removals still under way (see Remove).
	pending sync.WaitGroup
	// byLayers maps an image's layer chain to the engine image that has
	// it (see engineImage).
	byLayers map[string]string
	// found are the commands checkStart found executable, by image,
	// PATH, working folder and name.
	found map[string]bool
	// driver is the engine's storage driver, once known.
	driver string
}

// run is one start of a workload: closed done once its exit is reported.
type run struct {
	done chan struct{}
	// removing is set by Remove: the engine's kill is the removal's, not
	// an exit to report (the control plane is deleting the record).
	removing atomic.Bool
}

// New returns a docker provider.
func New(opts Options) (*Provider, error) {
	if opts.Client == nil || opts.Reporter == nil || len(opts.Secret) == 0 || opts.RelayURL == "" || opts.ControlPlaneURL == "" || opts.AgentPath == "" {
		return nil, errors.New("docker provider: Client, Reporter, Secret, RelayURL, ControlPlaneURL and AgentPath are required")
	}
	if opts.AgentLogLevel == "" {
		opts.AgentLogLevel = "error"
	}
	if opts.NamePrefix == "" {
		opts.NamePrefix = "sockerless-"
	}
	return &Provider{opts: opts, runs: map[string]*run{}, nets: map[string]bool{}, netsOf: map[string][]string{}, byLayers: map[string]string{}, found: map[string]bool{}}, nil
}

// NewClient returns an engine client for host ("unix:///path",
// "tcp://host:port"). With certPath set, TLS uses ca.pem, cert.pem and
// key.pem from it, as DOCKER_CERT_PATH does for the docker CLI.
func NewClient(host, certPath string) (*client.Client, error) {
	opts := []client.Opt{client.WithHost(host)}
	if certPath != "" {
		opts = append(opts, client.WithTLSClientConfig(certPath+"/ca.pem", certPath+"/cert.pem", certPath+"/key.pem"))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker provider: engine %s: %w", host, err)
	}
	return c, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return "docker" }

func (p *Provider) name(id string) string { return p.opts.NamePrefix + id }

// classify turns an engine error into the errdefs class functions expects.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return errdefs.NotFound(err)
	case cerrdefs.IsInvalidArgument(err):
		return errdefs.InvalidParameter(err)
	case cerrdefs.IsConflict(err):
		return errdefs.Conflict(err)
	}
	return fmt.Errorf("docker provider: %w", err)
}

// Create creates the engine container: the agent as its entrypoint, the
// image's command after "--", the agent's settings in SOCKERLESS_*
// variables (the agent removes them from the workload's environment).
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	argv := append(append([]string{}, s.Entrypoint...), s.Cmd...)
	if len(argv) == 0 {
		return errdefs.InvalidParameterf("no command specified")
	}
	relayURL, controlURL := p.opts.RelayURL, p.opts.ControlPlaneURL
	noNetwork := s.NetworkMode == "none" && p.opts.RelaySocket != ""
	if noNetwork {
		relayURL, controlURL = "ws://sockerless", "http://sockerless"
	}
	env := append([]string{}, s.Env...)
	env = append(env,
		"SOCKERLESS_RELAY_URL="+relayURL,
		"SOCKERLESS_CONTROL_PLANE_URL="+controlURL,
		"SOCKERLESS_CONTAINER_ID="+s.ID,
		"SOCKERLESS_AGENT_TOKEN="+ticket.AgentToken(p.opts.Secret, s.ID),
		"SOCKERLESS_TTY="+strconv.FormatBool(s.Tty),
		"SOCKERLESS_USER="+s.User,
		"SOCKERLESS_OPEN_STDIN="+strconv.FormatBool(s.OpenStdin),
		"SOCKERLESS_STDIN_ONCE="+strconv.FormatBool(s.StdinOnce),
		"SOCKERLESS_LOG_LEVEL="+p.opts.AgentLogLevel,
	)
	if noNetwork {
		// The relay and the report endpoints through the socket (the
		// URLs' hosts are not dialled).
		env = append(env, "SOCKERLESS_SOCKET="+path.Join(relayMountDir, path.Base(p.opts.RelaySocket)))
	}
	if !hasVar(s.Env, "HOME") {
		// The engine gives the agent (root) HOME=/root; the main process
		// gets its own user's, as on Docker.
		env = append(env, "SOCKERLESS_HOME_FROM_USER=true")
	}
	if hc := s.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		b, err := json.Marshal(hc)
		if err != nil {
			return fmt.Errorf("docker provider: health check: %w", err)
		}
		env = append(env, "SOCKERLESS_HEALTHCHECK="+string(b))
	}
	cfg := &container.Config{
		Image:      s.Image,
		Entrypoint: []string{AgentMountPath, "--"},
		Cmd:        argv,
		Env:        env,
		WorkingDir: s.WorkingDir,
		Hostname:   s.Hostname,
		// The agent runs as root, with the supplementary groups the
		// engine gives uid 0 (root's memberships in the image's
		// /etc/group), which a main process without a user inherits; the
		// main process runs as SOCKERLESS_USER.
		User:   "0",
		Labels: map[string]string{LabelID: s.ID},
	}
	hc := hostConfig(s)
	hc.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: p.opts.AgentPath, Target: AgentMountPath, ReadOnly: true}}
	if noNetwork {
		hc.NetworkMode = "none"
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: path.Dir(p.opts.RelaySocket), Target: relayMountDir})
	}
	for _, m := range s.Mounts {
		switch m.Type {
		case "volume":
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Destination, ReadOnly: m.ReadOnly})
		case "tmpfs":
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeTmpfs, Target: m.Destination})
		default:
			// Docker creates a missing bind source (the -v form).
			hc.Binds = append(hc.Binds, bindSpec(m))
		}
	}
	eps, err := p.endpoints(ctx, s)
	if err != nil {
		return err
	}
	var nc *network.NetworkingConfig
	if eps != nil {
		nc = &network.NetworkingConfig{EndpointsConfig: eps}
		// The first user network replaces the default bridge, as on
		// Docker; the relay stays reachable at the engine host's address.
		for _, i := range userNetworks(s) {
			hc.NetworkMode = container.NetworkMode(p.networkName(i.NetworkID))
			break
		}
	}
	opts := client.ContainerCreateOptions{Config: cfg, HostConfig: hc, NetworkingConfig: nc, Name: p.name(s.ID)}
	_, err = p.opts.Client.ContainerCreate(ctx, opts)
	if cerrdefs.IsNotFound(err) && strings.Contains(err.Error(), "No such image") {
		// A reference only Sockerless knows (docker tag through it), or
		// an image it made: run the engine image of that id, or with its
		// layers.
		var id string
		if id, err = p.engineImage(ctx, s); err == nil {
			cfg.Image = id
			_, err = p.opts.Client.ContainerCreate(ctx, opts)
		}
	}
	if cerrdefs.IsNotFound(err) && eps != nil {
		// A network released by a concurrent removal: make it again.
		p.forgetNetworks(s)
		if _, err = p.endpoints(ctx, s); err == nil {
			_, err = p.opts.Client.ContainerCreate(ctx, opts)
		}
	}
	if err != nil {
		return classify(err)
	}
	if eps != nil {
		var ids []string
		for _, i := range userNetworks(s) {
			ids = append(ids, i.NetworkID)
		}
		p.mu.Lock()
		p.netsOf[s.ID] = ids
		p.mu.Unlock()
	}
	return nil
}

func bindSpec(m providers.Mount) string {
	s := m.Source + ":" + m.Destination
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// Start starts the engine container and watches for its end: an exit the
// agent did not report (it was killed) is reported from the engine's wait.
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	name := p.name(s.ID)
	if err := p.checkStart(ctx, s); err != nil {
		return err
	}
	// The run is known before the start: a process that ends at once can
	// be reported, and the container removed, before ContainerStart
	// returns, and Remove must find the run to mark it.
	r := &run{done: make(chan struct{})}
	p.mu.Lock()
	prev := p.runs[s.ID]
	p.runs[s.ID] = r
	p.mu.Unlock()
	if _, err := p.opts.Client.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		p.mu.Lock()
		if p.runs[s.ID] == r {
			if prev != nil {
				p.runs[s.ID] = prev
			} else {
				delete(p.runs, s.ID)
			}
		}
		p.mu.Unlock()
		return classify(err)
	}
	// The wait is asked after the start, off the start's path (one engine
	// round trip less before the main process runs): "not-running" answers
	// at once, with this run's exit code, for a process that has already
	// ended.
	go func() {
		defer close(r.done)
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		wait := p.opts.Client.ContainerWait(wctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		var code int
		select {
		case res := <-wait.Result:
			code = int(res.StatusCode)
		case <-wait.Error:
			// The engine lost the container (removed behind our back).
			code = 137
		}
		if !r.removing.Load() {
			_ = p.opts.Reporter.Exited(context.Background(), s.ID, code, time.Now())
		}
	}()
	return nil
}

// current returns the latest run of id, nil if never started.
func (p *Provider) current(id string) *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runs[id]
}

// waitReported waits until the current run's exit has been reported.
func (p *Provider) waitReported(ctx context.Context, id string) {
	if r := p.current(id); r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
		}
	}
}

// Stop stops the engine container (SIGTERM to the agent, which forwards it
// to the main process; SIGKILL after timeout) and returns once the exit is
// reported.
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Round(time.Second) / time.Second)
	if timeout < 0 {
		secs = -1
	}
	if _, err := p.opts.Client.ContainerStop(ctx, p.name(id), client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return classify(err)
	}
	p.waitReported(ctx, id)
	return nil
}

// Kill sends signal to the agent, which forwards it to the main process
// (SIGKILL ends the agent itself, and so the workload).
func (p *Provider) Kill(ctx context.Context, id string, signal int) error {
	if _, err := p.opts.Client.ContainerKill(ctx, p.name(id), client.ContainerKillOptions{Signal: strconv.Itoa(signal)}); err != nil {
		if cerrdefs.IsConflict(err) { // not running: nothing to signal
			return nil
		}
		return classify(err)
	}
	if signal == 9 {
		p.waitReported(ctx, id)
	}
	return nil
}

// Remove removes the workload: the engine container (killing what is
// left of it), its anonymous volumes and the engine networks it leaves
// unused, in the background. The control plane kills a running
// container's workload (Kill, SIGKILL, which waits for the exit) before
// it removes it (docker rm -f), so what Remove gets is a workload whose
// main process has ended: at most the agent is still closing its relay
// link (an auto-remove right after the exit report). The engine's
// teardown of it (kill, network namespace, overlay, cgroup) is most of a
// docker run --rm's cost, and the Sockerless record, which is what the
// Docker API shows, is gone without waiting for it. Removing an unknown
// workload is not an error.
func (p *Provider) Remove(ctx context.Context, id string) error {
	if r := p.current(id); r != nil {
		r.removing.Store(true)
	}
	p.mu.Lock()
	delete(p.runs, id)
	nets := p.netsOf[id]
	delete(p.netsOf, id)
	p.mu.Unlock()
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
		defer cancel()
		_, _ = p.opts.Client.ContainerRemove(rctx, p.name(id), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		p.releaseNetworks(rctx, nets)
	}()
	return nil
}

// removeTimeout bounds one background removal on the engine.
const removeTimeout = 2 * time.Minute

// Flush waits until the engine removals Remove started have ended, or ctx
// is done: tests that look at the engine, and a shutdown that wants the
// engine left clean, call it.
func (p *Provider) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Logs returns the container's output as the engine logged it (the agent
// writes the main process's stdout and stderr to its own). Cursors are
// entry sequence numbers.
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	rc, err := p.opts.Client.ContainerLogs(ctx, p.name(id), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		return providers.LogPage{}, classify(err)
	}
	defer rc.Close()
	entries, err := readLogs(rc)
	if err != nil {
		return providers.LogPage{}, fmt.Errorf("docker provider: logs: %w", err)
	}
	return providers.PageLogs(entries, 0, opts), nil
}

// readLogs parses the engine's multiplexed log stream with timestamps:
// frames of an 8-byte header (stream, size) and a payload; each line of a
// payload begins with an RFC 3339 time and a space.
func readLogs(r io.Reader) ([]providers.LogEntry, error) {
	var entries []providers.LogEntry
	br := bufio.NewReader(r)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return entries, nil
			}
			return entries, err
		}
		stream := int(hdr[0])
		size := binary.BigEndian.Uint32(hdr[4:])
		payload := make([]byte, size)
		if _, err := io.ReadFull(br, payload); err != nil {
			return entries, err
		}
		ts, data, ok := bytes.Cut(payload, []byte(" "))
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			continue
		}
		if n := len(entries); n > 0 && entries[n-1].Stream == stream && bytes.Equal(ts, []byte(entries[n-1].Time.Format(time.RFC3339Nano))) && !bytes.HasSuffix(entries[n-1].Data, []byte("\n")) {
			entries[n-1].Data = append(entries[n-1].Data, data...)
			continue
		}
		entries = append(entries, providers.LogEntry{Stream: stream, Time: at, Data: data})
	}
}

// Pause implements providers.Pauser with the engine's freezer.
func (p *Provider) Pause(ctx context.Context, id string) error {
	_, err := p.opts.Client.ContainerPause(ctx, p.name(id), client.ContainerPauseOptions{})
	return classify(err)
}

// Unpause implements providers.Pauser.
func (p *Provider) Unpause(ctx context.Context, id string) error {
	_, err := p.opts.Client.ContainerUnpause(ctx, p.name(id), client.ContainerUnpauseOptions{})
	return classify(err)
}

// Top implements providers.Processes from the engine's process list,
// leaving out the agent. Right after a start the agent may not have
// started the main process yet (it does once its relay link is up); Docker
// answers its start only once the process exists, so a listing with only
// the agent is asked again, for at most topSettle.
func (p *Provider) Top(ctx context.Context, id string) ([]providers.Process, error) {
	deadline := time.Now().Add(topSettle)
	for {
		out, agentSeen, err := p.top(ctx, id)
		if err != nil || len(out) > 0 || !agentSeen || time.Now().After(deadline) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// topSettle bounds how long Top waits for the main process to appear.
const topSettle = 5 * time.Second

func (p *Provider) top(ctx context.Context, id string) (out []providers.Process, agentSeen bool, err error) {
	res, err := p.opts.Client.ContainerTop(ctx, p.name(id), client.ContainerTopOptions{Arguments: []string{"-o", "pid,user,cmd"}})
	if err != nil {
		return nil, false, classify(err)
	}
	for _, row := range res.Processes {
		if len(row) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(row[0])
		cmd := row[2]
		// The agent wrapping the main process is Sockerless's, not the
		// workload's.
		if strings.HasPrefix(cmd, AgentMountPath) {
			agentSeen = true
			continue
		}
		out = append(out, providers.Process{PID: pid, User: row[1], Command: cmd})
	}
	return out, agentSeen, nil
}

// Stats implements providers.Processes from one engine stats sample.
func (p *Provider) Stats(ctx context.Context, id string) (providers.Stats, error) {
	res, err := p.opts.Client.ContainerStats(ctx, p.name(id), client.ContainerStatsOptions{Stream: false})
	if err != nil {
		return providers.Stats{}, classify(err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return providers.Stats{}, fmt.Errorf("docker provider: stats: %w", err)
	}
	return providers.Stats{Read: s.Read, CPUNanos: s.CPUStats.CPUUsage.TotalUsage, MemoryBytes: s.MemoryStats.Usage,
		MemoryLimit: s.MemoryStats.Limit, PIDs: s.PidsStats.Current,
		ThrottlePeriods: s.CPUStats.ThrottlingData.Periods, ThrottledPeriods: s.CPUStats.ThrottlingData.ThrottledPeriods,
		ThrottledNanos: s.CPUStats.ThrottlingData.ThrottledTime}, nil
}

// hasVar reports whether env sets variable name.
func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}
