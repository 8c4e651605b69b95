// Package providers defines the one interface every workload backend
// implements: it turns a container record into a running workload and back.
// Implementations live in sub-packages (synthetic, memory, and the cloud
// providers); the control plane imports none of their SDKs.
//
// Exec and attach do not go through a Provider: a provider's workload runs an
// agent (package agent) that the relay pairs with the shim's streams.
// Optional abilities are small extension interfaces found with As (which
// sees through wrappers); a missing one means the Docker endpoint answers
// 501, or the feature it refines is left out.
package providers

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/sockerless/sockerless/internal/layerstore"
	"github.com/sockerless/sockerless/internal/rootfs"
)

// Spec is what a provider needs to run a container's main process. It is
// built from the container record; it is not a Docker wire type.
type Spec struct {
	ID         string
	Name       string
	Image      string // image reference as the user gave it
	ImageID    string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Hostname   string
	Tty        bool
	OpenStdin  bool
	StdinOnce  bool
	Labels     map[string]string
	Mounts     []Mount
	// Memory is the memory limit in bytes and NanoCPUs the CPU limit in
	// billionths of a CPU; 0 means none. Cloud providers size their
	// workloads from them.
	Memory   int64
	NanoCPUs int64
	// Healthcheck is nil when the container has none.
	Healthcheck *Healthcheck
	// Layers are the image's layer diff ids, bottom first; empty for an
	// image known only by its config. A provider that keeps layers (see
	// LayerKeeper) starts the container's root from them.
	Layers []string
	// Resources are the limits the container was created with
	// (HostConfig); a provider enforces what it can.
	Resources Resources
	// ReadOnlyRootfs is --read-only: writes outside mounts fail.
	ReadOnlyRootfs bool
	// Tmpfs maps container paths to mount options (--tmpfs PATH[:OPTS]).
	Tmpfs map[string]string
	// StorageOpt are the container's storage driver options
	// (--storage-opt size=20G).
	StorageOpt map[string]string
	// GroupAdd are the supplementary groups asked for (--group-add:
	// names or numbers, looked up in the container's /etc/group).
	GroupAdd []string
	// Interfaces are the container's network endpoints as the control
	// plane assigned them, in network-name order (what ip addr shows).
	Interfaces []Interface
	// NetworkMode is HostConfig.NetworkMode ("bridge", "none", "host",
	// a network's name or id, "container:<id>").
	NetworkMode string
	// LogConfig is the log driver's options (HostConfig.LogConfig.Config:
	// max-size, max-file); empty means the provider's default.
	LogConfig map[string]string
}

// Interface is one network endpoint of a container.
type Interface struct {
	Network    string
	IPAddress  string
	PrefixLen  int
	MacAddress string
	// NetworkID is the network's id; DNSNames are the names peers on the
	// network reach the container by (its name, aliases, short id). A
	// provider whose platform has networks of its own (the docker
	// provider) builds the network and its names there.
	NetworkID string
	DNSNames  []string
}

// Resources are a container's resource limits; zero means none asked.
type Resources struct {
	// Memory is --memory in bytes.
	Memory int64
	// PidsLimit is --pids-limit; zero or negative means unlimited.
	PidsLimit int64
	// NanoCPUs is --cpus in billionths of a CPU.
	NanoCPUs int64
	// Ulimits are --ulimit NAME=SOFT[:HARD].
	Ulimits []Ulimit
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Mount is a volume or bind at a path inside the container.
type Mount struct {
	// Type is "volume" or "bind" (or "tmpfs").
	Type string
	// Source is the volume name or host path.
	Source      string
	Destination string
	ReadOnly    bool
	// NoCopy keeps an empty volume empty: without it a provider that
	// runs image filesystems fills an empty volume with the image's
	// content at Destination, as Docker does (volume-nocopy, "nocopy").
	NoCopy bool
}

// Healthcheck is a container's health probe.
type Healthcheck struct {
	Test                           []string
	Interval, Timeout, StartPeriod time.Duration
	// StartInterval is the probe interval during StartPeriod while no
	// probe has passed yet (Docker's default 5 s when zero).
	StartInterval time.Duration
	Retries       int
}

// Reporter is how a workload tells the control plane about its main
// process. In cloud mode the agent calls functions over HTTP with its token;
// in-process providers call it directly. Implementations retry until
// acknowledged where the transport can fail.
type Reporter interface {
	// Exited records that the container's main process ended.
	Exited(ctx context.Context, id string, code int, at time.Time) error
	// ExecExited records that a detached or streamed exec ended.
	ExecExited(ctx context.Context, execID string, code int, at time.Time) error
	// Health records one health-check result.
	Health(ctx context.Context, id string, r HealthResult) error
}

// OOMReporter is an optional extension of a Reporter: the container's
// processes were killed for passing its memory limit. A provider calls it
// before Exited, so the record shows State.OOMKilled and the event log an
// `oom` before the `die`, as Docker's do.
type OOMReporter interface {
	OOMKilled(ctx context.Context, id string, at time.Time) error
}

// Sizer is an optional extension for `docker ps -s` and `inspect
// --size`: the bytes the container wrote (SizeRw) and its whole root
// filesystem (SizeRootFs).
type Sizer interface {
	Size(ctx context.Context, id string) (rw, rootfs int64, err error)
}

// FlagApplier is an optional extension: which of a container's
// HostConfig settings the provider applies. Create answers Docker's
// Warnings for the settings a container asked for that the provider
// ignores. Flags are named as the docker CLI spells them ("cpus",
// "privileged", "ulimit nofile"...).
type FlagApplier interface {
	Applies(flag string) bool
}

// HealthResult is one health probe's outcome.
type HealthResult struct {
	Start, End time.Time
	ExitCode   int
	Output     string
}

// LogOptions selects log entries.
type LogOptions struct {
	// After continues from a previous LogPage.Cursor; empty starts at the
	// beginning.
	After string
	// Since and Until bound entry times; zero means unbounded.
	Since, Until time.Time
	// Tail, when > 0, returns only the last Tail entries (first page only).
	Tail int
	// MaxBytes, when > 0, ends a page once its entries hold that many
	// bytes (at least one entry is returned); LogPage.More then says the
	// rest follows from Cursor. It keeps each answer under a platform's
	// response limit.
	MaxBytes int
}

// LogEntry is one chunk of a container's output as the process wrote it.
type LogEntry struct {
	Stream int // 1 stdout, 2 stderr
	Time   time.Time
	Data   []byte
}

// LogPage is a batch of log entries and where to continue.
type LogPage struct {
	Entries []LogEntry
	Cursor  string
	// More is set when MaxBytes cut the page short.
	More bool
}

// Provider runs containers' main processes.
//
// # Errors
//
// Methods return errdefs-classified errors: NotFound for an unknown
// workload, Unavailable when the backend cannot be reached,
// NotImplemented for unsupported operations.
type Provider interface {
	// Name identifies the provider in `docker info` and logs.
	Name() string
	// Create prepares a workload (filesystem, agent registration) without
	// starting it, so attach and archive work before start.
	Create(ctx context.Context, s Spec) error
	// Start runs the main process. It returns once the workload's agent can
	// serve sessions; the exit is reported through the Reporter.
	Start(ctx context.Context, s Spec) error
	// Stop asks the main process to end (SIGTERM, or the image's stop
	// signal) and kills it after timeout.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Kill sends a signal to the main process.
	Kill(ctx context.Context, id string, signal int) error
	// Remove releases everything the workload holds. Removing an unknown
	// workload is not an error.
	Remove(ctx context.Context, id string) error
	// Logs returns the main process's output.
	Logs(ctx context.Context, id string, opts LogOptions) (LogPage, error)
}

// Archiver is an optional extension: file access inside a workload, for
// docker cp. Paths are absolute inside the container.
type Archiver interface {
	// StatPath describes path (following no final symlink).
	StatPath(ctx context.Context, id, path string) (PathStat, error)
	// GetArchive returns a tar of path: a file, or a directory and its tree.
	GetArchive(ctx context.Context, id, path string) (io.ReadCloser, PathStat, error)
	// PutArchive extracts tarball into the directory path. Entries that
	// would land outside the container's root are refused.
	PutArchive(ctx context.Context, id, path string, tarball io.Reader, noOverwriteDirNonDir bool) error
}

// PathStat is what docker cp learns about a path.
type PathStat struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	Mode       uint32    `json:"mode"` // Go os.FileMode bits
	Mtime      time.Time `json:"mtime"`
	LinkTarget string    `json:"linkTarget"`
}

// Processes is an optional extension: `docker top` and `docker stats`.
type Processes interface {
	// Top lists processes in the workload.
	Top(ctx context.Context, id string) ([]Process, error)
	// Stats samples resource counters.
	Stats(ctx context.Context, id string) (Stats, error)
}

// PIDReporter is an optional extension of a provider whose workloads'
// process ids are known: inspect shows them as the container's State.Pid
// and an exec's Pid, the ids its Top lists. Without it, or when the
// process is not running, they are 0 (never invented).
type PIDReporter interface {
	// MainPID is the PID of the container's running main process.
	MainPID(ctx context.Context, id string) (int, bool)
	// ExecPID is the PID of a running exec's process.
	ExecPID(ctx context.Context, id, execID string) (int, bool)
}

// Process is one row of `docker top`.
type Process struct {
	PID int
	// PPID is the parent's PID; 0 when unknown.
	PPID    int
	User    string
	Started time.Time
	Command string
}

// Stats is one sample of a workload's resource counters.
type Stats struct {
	Read     time.Time
	CPUNanos uint64
	// SystemCPUNanos is the host's total CPU time (all CPUs) and
	// OnlineCPUs its CPUs, what `docker stats` divides by; 0 when unknown.
	SystemCPUNanos uint64
	OnlineCPUs     uint32
	MemoryBytes    uint64
	MemoryLimit    uint64
	PIDs           uint64
	// Throttling is what the CPU limit did: CFS periods of the
	// container, those in which it was throttled, and the time it spent
	// throttled (cpu_stats.throttling_data); zero without a CPU limit.
	ThrottlePeriods, ThrottledPeriods, ThrottledNanos uint64
}

// Pauser is an optional extension for `docker pause` and `unpause`.
type Pauser interface {
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
}

// EarlyAttacher is an optional extension of a provider whose workloads'
// agents serve sessions from Create on (the in-process providers). The
// shim then holds an attach's upgrade until the session is in place, as
// Docker does, so output written right after start is never missed. A
// cloud workload's agent exists only after start; its first attach gets
// the agent's buffered early output instead.
type EarlyAttacher interface {
	AttachesBeforeStart() bool
}

// LayerKeeper is an optional extension of a provider that runs image
// filesystems itself (the memory provider): it keeps image layers in a
// content-addressed store, which the image endpoints (load, pull, build)
// fill and Create reads. Without it images are recorded by config only.
type LayerKeeper interface {
	LayerStore() *layerstore.Store
}

// RootRunner is an optional extension of a provider that can run a
// process to completion with a given host directory as the root
// filesystem, as docker build's RUN needs. Without it, builds with RUN
// steps answer 501.
type RootRunner interface {
	// RunInRoot runs p with root as "/" and returns its exit status.
	RunInRoot(ctx context.Context, root string, p RootProcess) (int, error)
}

// RootProcess is one process for RootRunner.
type RootProcess struct {
	Argv           []string
	Env            []string
	Dir            string // working directory; "" means "/"
	User           string // "uid[:gid]" or a name
	Stdout, Stderr io.Writer
}

// Inspector is an optional extension that tells whether a container's
// workload still exists. The control plane keeps no memory of workloads,
// so after a restart, or when a workload vanished without its exit report
// (a crashed host, a function instance that was recycled), it asks: a
// running container without a workload is reconciled to exited, and a
// created one gets its workload again before it starts.
type Inspector interface {
	// Exists reports whether container id has a workload, created or
	// running (a workload whose process ended but was not removed exists).
	Exists(ctx context.Context, id string) (bool, error)
}

// Exit is how a workload's main process ended, as its platform tells it.
type Exit struct {
	// Code is the Docker exit code.
	Code int
	// OOMKilled says the platform killed it for passing its memory limit.
	OOMKilled bool
	// At is when it ended; zero when unknown.
	At time.Time
	// Reason is the platform's explanation (ECS's stop reason), for logs.
	Reason string
}

// ExitInspector is an optional extension of an Inspector whose platform
// keeps how a workload ended (ECS's DescribeTasks keeps a stopped task's
// exit code and reason). When a running container's workload is gone
// without an exit report, the sweep records this exit instead of 255, so
// no process has to watch the workload for it.
type ExitInspector interface {
	// ExitOf returns how container id's latest workload ended; ok is
	// false when the platform does not know (it never ran, or forgot).
	ExitOf(ctx context.Context, id string) (e Exit, ok bool, err error)
}

// Tidier is an optional extension for a platform whose resources are
// kept between containers for reuse (ECS task definitions, reused by every
// container of the same image and settings) and released once nothing has
// used them for a while. The sweep calls Tidy once per call, so nothing
// waits for them in a request; it is bounded and idempotent.
type Tidier interface {
	// Tidy releases what no container has used for long enough, and
	// returns the names of what it released.
	Tidy(ctx context.Context) ([]string, error)
}

// ExitedFiles is an optional extension for a provider whose workloads,
// reached through the relay, go on serving their files for a while after
// the main process ended by itself (ECS: the task stays until docker rm,
// the next start, or the bound), so that docker cp out of an exited
// container works as with Docker (gitlab-ci-local collects artifacts so).
// Reads are ticketed to the relay name ticket.ExitedContainer(id); writes
// are staged by the shim for the next start, which runs a new workload.
type ExitedFiles interface {
	// ExitedFilesFor is how long after the exit the files are served.
	ExitedFilesFor() time.Duration
}

// Resizer is an optional extension for resizing a container's TTY outside
// a live attach session.
type Resizer interface {
	Resize(ctx context.Context, id string, height, width uint) error
}

// PageLogs selects from an in-memory log whose first kept entry has
// sequence number base (older ones were dropped). Cursors are sequence
// numbers, so a follower never sees an entry twice.
func PageLogs(entries []LogEntry, base int, opts LogOptions) LogPage {
	from := 0
	if opts.After != "" {
		n, _ := strconv.Atoi(opts.After)
		from = max(n-base, 0)
	}
	var picked []int // indexes into entries
	for i := min(from, len(entries)); i < len(entries); i++ {
		e := entries[i]
		if (!opts.Since.IsZero() && e.Time.Before(opts.Since)) || (!opts.Until.IsZero() && e.Time.After(opts.Until)) {
			continue
		}
		picked = append(picked, i)
	}
	if opts.Tail > 0 && len(picked) > opts.Tail {
		picked = picked[len(picked)-opts.Tail:]
	}
	page := LogPage{Cursor: strconv.Itoa(base + len(entries))}
	size := 0
	for n, i := range picked {
		if opts.MaxBytes > 0 && n > 0 && size+len(entries[i].Data) > opts.MaxBytes {
			page.Cursor, page.More = strconv.Itoa(base+i), true
			break
		}
		size += len(entries[i].Data)
		page.Entries = append(page.Entries, entries[i])
	}
	return page
}

// VolumeRemover is an optional extension of a provider that keeps volume
// data itself (the memory provider keeps a folder per volume): removing a
// volume deletes its data, so a new volume of the same name starts empty,
// as Docker's local driver does. Removing a volume with no data is not an
// error. Without it, a volume is only its record.
type VolumeRemover interface {
	RemoveVolume(ctx context.Context, name string) error
}

// BaseLayerer is an optional extension of a provider that runs image
// filesystems and gives a container whose image has no stored layers
// (an image pulled while the registry was unreachable) a default
// filesystem of its own: BaseLayer returns that filesystem, as it was
// when the container was created, as a layer tar. docker diff compares
// the container with it, and docker commit keeps it as the new image's
// bottom layer. A container made from stored layers has none (NotFound).
type BaseLayerer interface {
	BaseLayer(ctx context.Context, id string) (io.ReadCloser, error)
}

// DefaultRooter is an optional extension of a provider that gives a
// root without image content its default filesystem (the memory
// provider's busybox layout of its applets), so docker build can give a
// stage FROM an image without layers what a container of it gets.
type DefaultRooter interface {
	DefaultRoot(f *rootfs.FS) error
}
