// Package dockerengine runs a real Docker engine (dockerd 28.2.2, the same
// version as the docker CLI the tests drive) as the reference Sockerless is
// measured against, and as the engine the docker provider and the local
// clouds run their workloads on.
//
// Each engine is private: its own socket, data root, exec root, pidfile,
// cgroup parent and bridge, on an address range (a 10.N.0.0/16 no route on
// the machine uses) that no other engine on the machine shares. Stop removes
// exactly what the engine made: its processes (dockerd, containerd, shims and
// container processes), the bridges on its range, the iptables rule that
// forwards within it (dockerd itself runs without iptables: see launch),
// the mounts under its folder and the folder. An engine whose owner died
// without stopping it is cleaned up by the next Start on the machine.
//
// The binaries come from the versioned cache .ci/dockerd.sh builds
// (~/.cache/sockerless/dockerd-28.2.2: dockerd and docker-proxy); Start runs
// that script when the cache is missing. containerd, runc and docker-init
// come from Debian's docker.io package; images come from Debian's
// busybox-static (loaded at start as "busybox:latest") and debootstrap (a
// minbase bookworm root, built once per machine and cached, loaded on demand
// as "debian:bookworm" by Engine.LoadDebian).
//
// Programs start an engine with Start and stop it with Stop:
//
//	eng, err := dockerengine.Start(ctx, dockerengine.Options{})
//	if err != nil { ... }
//	defer eng.Stop()
//	// eng.Host is "unix:///tmp/sockerless-engine-…/docker.sock": set it as
//	// DOCKER_HOST for the docker CLI, or pass it to client.WithHost.
//
// Tests share one engine per test binary with Shared (see its comment); a
// test that needs the engine fails, never skips, when it cannot start.
//
// Starting an engine needs root (it creates a bridge and an iptables rule) and
// Linux.
package dockerengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Version is the dockerd version the engine runs.
const Version = "28.2.2"

// StartTimeout bounds how long dockerd may take to answer its first ping.
// It starts in under a second on an idle machine; the bound is a hang guard
// for a busy one.
const StartTimeout = 2 * time.Minute

// BusyboxImage and DebianImage are the references the test images are
// loaded under.
const (
	BusyboxImage = "busybox:latest"
	DebianImage  = "debian:bookworm"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// BinDir is the folder holding dockerd and docker-proxy. Empty: the
	// folder .ci/dockerd.sh prints (SOCKERLESS_DOCKERD_DIR overrides it),
	// running the script to build the cache when it is missing.
	BinDir string
	// Log receives dockerd's own output in addition to the engine's log
	// file (Engine.LogPath). Nil: only the file.
	Log io.Writer
	// NoBusybox leaves the busybox image out (Start loads it by default).
	NoBusybox bool
}

// Engine is one running dockerd with its own socket, storage and bridge.
type Engine struct {
	// Host is the engine's address for DOCKER_HOST or client.WithHost:
	// "unix://<Dir>/docker.sock".
	Host string
	// Dir is the folder holding everything the engine writes: the socket,
	// data root, exec root, pidfile and log.
	Dir string
	// Bridge is the name of the engine's default bridge.
	Bridge string
	// Subnet is the engine's address range (CIDR); the default bridge has
	// its first /24, user-defined networks come from its upper half.
	Subnet string
	// LogPath is dockerd's log file.
	LogPath string

	st       state
	proc     *process
	owner    *os.File // flock held for the engine's life: it is alive
	stopOnce sync.Once
	stopErr  error

	debianMu  sync.Mutex
	debianRef string
}

// Start builds or reuses dockerd, starts it with a private socket, storage
// and bridge, waits until it answers and loads the busybox image. On error
// nothing it made is left behind.
func Start(ctx context.Context, opts Options) (*Engine, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = BinDir(ctx); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"dockerd", "docker-proxy"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			return nil, fmt.Errorf("dockerengine: %s missing from %s: %w", name, binDir, err)
		}
	}
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc", "docker-init", "iptables", "ip"} {
		if _, err := exec.LookPath(name); err != nil {
			return nil, fmt.Errorf("dockerengine: %s not on PATH (install Debian's docker.io, iproute2 and iptables: .ci/tools.sh): %w", name, err)
		}
	}

	e, release, err := prepare()
	if err != nil {
		return nil, err
	}
	err = e.launch(ctx, binDir, opts.Log)
	release() // dockerd answers (or failed)
	if err != nil {
		_ = e.cleanup()
		return nil, err
	}
	if !opts.NoBusybox {
		if err := e.loadBusybox(ctx); err != nil {
			_ = e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// Client returns a Docker Go SDK client for the engine. The caller closes it.
func (e *Engine) Client() (*client.Client, error) {
	c, err := client.New(client.WithHost(e.Host))
	if err != nil {
		return nil, fmt.Errorf("dockerengine: client for %s: %w", e.Host, err)
	}
	return c, nil
}

// Env returns os.Environ() with DOCKER_HOST naming the engine and the
// other DOCKER_* settings that could redirect the CLI removed: the
// environment for a docker CLI command aimed at the engine.
func (e *Engine) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+e.Host)
}

// Stop stops dockerd and removes everything the engine made: container
// processes, shims, mounts, bridges, iptables rules and its folder. It is
// safe to call more than once; later calls return the first call's error.
func (e *Engine) Stop() error {
	if e == nil {
		return nil
	}
	e.stopOnce.Do(func() {
		var errs []error
		if e.proc != nil {
			errs = append(errs, e.proc.terminate(60*time.Second))
		}
		errs = append(errs, e.cleanup())
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// Log returns the tail of dockerd's log (for failure messages).
func (e *Engine) Log() string {
	b, err := os.ReadFile(e.LogPath)
	if err != nil {
		return ""
	}
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
