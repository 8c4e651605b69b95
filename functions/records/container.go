package records

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// Container is a container's stored record.
type Container struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"` // without the leading slash
	Created time.Time `json:"created"`
	// Image is the image id (sha256:...); ImageRef is the reference as given.
	Image    string   `json:"image"`
	ImageRef string   `json:"imageRef"`
	Path     string   `json:"path"`
	Args     []string `json:"args"`

	Config     *container.Config     `json:"config"`
	HostConfig *container.HostConfig `json:"hostConfig"`
	// Networks maps network name to the container's endpoint in it.
	Networks map[string]*Endpoint `json:"networks,omitempty"`

	State        State `json:"state"`
	RestartCount int   `json:"restartCount"`
	// ExitSeq counts exits of the main process, so `wait next-exit` can
	// tell a new exit from an old one.
	ExitSeq int64 `json:"exitSeq"`
	// StartSeq counts starts, so a late exit report for an earlier run
	// cannot stop a restarted container.
	StartSeq int64 `json:"startSeq"`
	// ManualStop is set by stop and kill and cleared by start, so the
	// restart policy does not restart a container the user stopped.
	ManualStop bool `json:"manualStop,omitempty"`
	// ManualRestart is set by restart before it stops the container and
	// cleared by the start that follows, so the stop of a restart does not
	// auto-remove it (moby's HasBeenManuallyRestarted).
	ManualRestart bool `json:"manualRestart,omitempty"`
	// HadExec is set before the container's first exec record is created,
	// so removing a container that never had one skips listing its execs.
	HadExec bool `json:"hadExec,omitempty"`
	// CreateKey and StartKey are the idempotency keys of the request that
	// created the container and of its latest start, so a retried
	// request is answered without doing the work twice.
	CreateKey string `json:"createKey,omitempty"`
	StartKey  string `json:"startKey,omitempty"`
	// Removing is set while a removal is in progress.
	Removing bool `json:"removing,omitempty"`
	// RestartAt is when the restart policy restarts the container after
	// its last exit (zero: no restart is due). The record is the timer:
	// whatever comes next (the sweep a scheduler calls, a request) starts
	// the container once it is due, so no process has to stay up for it.
	RestartAt time.Time `json:"restartAt,omitzero"`
	// ExitUnreported is set when the sweep found the workload gone without
	// an exit report and recorded the exit itself (code 255, as Docker
	// after a daemon crash); a late report of that run still sets its code.
	ExitUnreported bool `json:"exitUnreported,omitempty"`
	// Provider names the provider that runs the workload.
	Provider string `json:"provider"`
	// AnonVolumes maps each mount point that Docker backs with a fresh
	// anonymous volume (-v /data, a volume mount without a source, an
	// image VOLUME) to that volume's generated name.
	AnonVolumes map[string]string `json:"anonVolumes,omitempty"`
	// ListenPorts are the TCP ports the workload's agent found listening
	// on a non-loopback address (what a peer on its networks can reach),
	// as it last reported them; peers' agents listen for them.
	ListenPorts []int `json:"listenPorts,omitempty"`
	// DirectAddrs are where the workload's agent takes direct connections
	// from its peers' agents (package relay/direct), as it reported them;
	// empty where it takes none.
	DirectAddrs []string `json:"directAddrs,omitempty"`
	// SizeRw is the writable layer's size when known.
	SizeRw int64 `json:"sizeRw,omitempty"`

	// Version is the store version this value was read at (not stored):
	// UpdateContainerFrom writes from it without reading the record again.
	Version int64 `json:"-"`
}

// State is the container's lifecycle state.
type State struct {
	Status string `json:"status"` // created, running, paused, restarting, removing, exited, dead
	// Running is whether a run is in progress (a workload was started
	// and its exit is not recorded).
	Running bool `json:"running"`
	Paused  bool `json:"paused"`
	// Restarting is set, with Status "restarting", from an exit after
	// which the restart policy restarts the container (RestartAt) until
	// that restart starts it or a stop, kill or removal cancels it: the
	// back-off Docker shows as "Restarting (code) n seconds ago".
	Restarting bool      `json:"restarting"`
	OOMKilled  bool      `json:"oomKilled"`
	Dead       bool      `json:"dead"`
	Pid        int       `json:"pid"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Health is nil when the container has no healthcheck.
	Health *Health `json:"health,omitempty"`
}

// Health is a container's health-check state.
type Health struct {
	Status        string      `json:"status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"failingStreak"`
	Log           []HealthLog `json:"log"`
}

// HealthLog is one health probe's result.
type HealthLog struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exitCode"`
	Output   string    `json:"output"`
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	NetworkID  string   `json:"networkId"`
	EndpointID string   `json:"endpointId"`
	IPAddress  string   `json:"ip,omitempty"`
	PrefixLen  int      `json:"prefixLen,omitempty"`
	Gateway    string   `json:"gateway,omitempty"`
	MacAddress string   `json:"mac,omitempty"`
	Aliases    []string `json:"aliases,omitempty"`
	DNSNames   []string `json:"dnsNames,omitempty"`
	// IPAMConfig keeps a user-requested address.
	IPv4Requested string `json:"ipv4Requested,omitempty"`
	// AddrName, when set, is the unique name of the container record that
	// reserves IPAddress (AddrName("bridge", ip) on the default bridge),
	// so the address is taken and freed with the record's own writes and
	// the network record is never rewritten for it.
	AddrName string `json:"addrName,omitempty"`
}

// AddrName is the container-record name that reserves address ip in the
// network called network.
func AddrName(network, ip string) string { return "ip:" + network + ":" + ip }

var containers = kind[Container]{
	name:    KindContainer,
	id:      func(c *Container) string { return c.ID },
	version: func(c *Container) *int64 { return &c.Version },
	names: func(c *Container) []string {
		names := []string{c.Name}
		if c.CreateKey != "" {
			names = append(names, CreateKeyName(c.CreateKey))
		}
		for _, ep := range c.Networks {
			if ep.AddrName != "" {
				names = append(names, ep.AddrName)
			}
		}
		sort.Strings(names[1:])
		return names
	},
}

// CreateKeyName is the reserved name that ties a create request's
// idempotency key to the one container it made. "~" cannot start a
// Docker container name, so it never meets a user's name.
func CreateKeyName(key string) string { return "~idem~" + key }

// ErrNoSuchContainer is the error Docker gives for an unknown container.
func ErrNoSuchContainer(ref string) error { return errdefs.NotFoundf("No such container: %s", ref) }

// CreateContainer stores a new container; its name is reserved atomically,
// and evs (see NewEvent) are appended in the same write. A taken name is a
// *statestore.NameConflictError.
func (st *Store) CreateContainer(ctx context.Context, c *Container, evs ...statestore.Event) error {
	return containers.create(ctx, st.s, c, evs...)
}

// Container resolves ref (id, name with or without "/", or unique id
// prefix) to a container.
func (st *Store) Container(ctx context.Context, ref string) (*Container, error) {
	return resolve(ctx, st.s, containers, strings.TrimPrefix(ref, "/"), func() error { return ErrNoSuchContainer(ref) })
}

// ContainerByID returns container id, looked up by its full id only.
func (st *Store) ContainerByID(ctx context.Context, id string) (*Container, error) {
	c, _, err := containers.get(ctx, st.s, id)
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchContainer(id)
	}
	return c, err
}

// ContainerByName returns the container holding name, if any.
func (st *Store) ContainerByName(ctx context.Context, name string) (*Container, error) {
	return containers.getByName(ctx, st.s, strings.TrimPrefix(name, "/"))
}

// UpdateContainer applies fn to container id with optimistic concurrency.
func (st *Store) UpdateContainer(ctx context.Context, id string, fn func(*Container) error) (*Container, error) {
	return st.UpdateContainerFrom(ctx, id, fn, Change[Container]{})
}

// UpdateContainerFrom is UpdateContainer starting from ch.From (a container
// the caller read, so the usual read is saved while nobody else writes it)
// and appending the events of ch.Events in the same write.
func (st *Store) UpdateContainerFrom(ctx context.Context, id string, fn func(*Container) error, ch Change[Container]) (*Container, error) {
	c, err := containers.mutate(ctx, st.s, id, fn, ch)
	if errdefs.IsNotFound(err) {
		return nil, ErrNoSuchContainer(id)
	}
	return c, err
}

// DeleteContainer removes container id and frees its names; version 0
// deletes whatever version is stored. evs are appended in the same write.
func (st *Store) DeleteContainer(ctx context.Context, id string, version int64, evs ...statestore.Event) error {
	err := containers.delete(ctx, st.s, id, version, evs...)
	if errdefs.IsNotFound(err) {
		return ErrNoSuchContainer(id)
	}
	return err
}

// Containers lists every container.
func (st *Store) Containers(ctx context.Context) ([]*Container, error) {
	return containers.list(ctx, st.s, "")
}

// AutoRemoves reports whether an exit of c removes it: it was created
// with AutoRemove, and no restart of it is under way.
func (c *Container) AutoRemoves() bool { return c.HostConfig.AutoRemove && !c.ManualRestart }

// Up reports whether Docker counts the container as running: a run is in
// progress, or its restart policy is about to start the next one (Docker
// keeps State.Running true through the back-off, so `docker ps` lists it,
// `docker rm` refuses it and `docker stop` stops it).
func (s State) Up() bool { return s.Running || s.Restarting }

// ErrRestarting is Docker's refusal of a request that needs the process
// of container id while its restart policy waits to restart it.
func ErrRestarting(id string) error {
	return errdefs.Conflictf("Container %s is restarting, wait until the container is running", id)
}
