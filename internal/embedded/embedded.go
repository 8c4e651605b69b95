// Package embedded assembles the one-process Sockerless: the shim in front
// of the functions handler, an in-process relay, the memory state store and
// a provider. cmd/sockerless serves it; tests start it on a socket of their
// own.
package embedded

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/internal/sweeper"
	"github.com/sockerless/sockerless/localshim"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/docker"
	"github.com/sockerless/sockerless/providers/memory"
	"github.com/sockerless/sockerless/providers/memory/sandbox"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/relay/wsclient"
	"github.com/sockerless/sockerless/statestore"
	memstore "github.com/sockerless/sockerless/statestore/memory"
)

// Options configures an embedded Sockerless. The zero value is usable.
type Options struct {
	// Synthetic selects the synthetic provider, which runs no processes.
	Synthetic bool
	// Docker, when its Host is set, selects the docker provider: workloads
	// run as containers on that engine, each with the sockerless-agent.
	Docker DockerOptions
	// SyntheticRunTime is how long the synthetic provider's main processes
	// run (default 50 ms).
	SyntheticRunTime time.Duration
	// StateDir holds container roots and volumes of the memory provider;
	// empty means a temporary directory removed by Close.
	StateDir string
	// CacheDir keeps the sandbox's compiled WASM across runs; empty means
	// the user cache directory (…/sockerless/wazero).
	CacheDir string
	// Secret signs stream tickets; empty means random per process.
	Secret []byte
	// PollWindow bounds single polls of long waits (default 20 s).
	PollWindow time.Duration
	// Store overrides the memory state store.
	Store statestore.Store
	// Registry overrides how images are fetched.
	Registry functions.Registry
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Version is reported by /version.
	Version string
	// PollBackoff and PollAfter override the shim's back-off between the
	// polls of long waits (localshim.Options.Backoff, After); tests use
	// them to count polls without waiting.
	PollBackoff func(attempt int, max time.Duration) time.Duration
	PollAfter   func(time.Duration) <-chan time.Time
	// SweepInterval is how often the reconcile sweep runs besides when a
	// record asks for it (a restart by policy): default one minute,
	// negative for never.
	SweepInterval time.Duration
}

// Sockerless is an assembled embedded instance.
type Sockerless struct {
	// Handler serves the Docker API (the shim).
	Handler http.Handler
	// API is the functions tier behind the shim.
	API     *functions.API
	store   statestore.Store
	sweeper *sweeper.Sweeper
	closers []func() error
}

// DockerOptions select and configure the docker provider.
type DockerOptions struct {
	// Host is the engine ("unix:///var/run/docker.sock",
	// "tcp://host:2376"); empty selects another provider.
	Host string
	// CertPath holds ca.pem, cert.pem and key.pem for TLS to a TCP engine.
	CertPath string
	// AgentPath is a statically linked sockerless-agent on the engine's
	// host (required).
	AgentPath string
	// Listen is where the relay and the agents' report endpoint listen,
	// an address workloads can reach; empty: the gateway of the engine's
	// default bridge network (a local engine) on a free port.
	Listen string
	// AdvertiseHost, when set, is the host workloads dial instead of the
	// listening address (an engine on another machine, behind NAT).
	AdvertiseHost string
}

// New assembles an embedded Sockerless.
func New(ctx context.Context, opts Options) (*Sockerless, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secret := opts.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	store := opts.Store
	if store == nil {
		store = memstore.New()
	}
	hub := relay.NewHub(secret)
	sl := &Sockerless{store: store}
	var newProvider func(providers.Reporter) (providers.Provider, error)
	var relayURL string = "inproc:"
	var dialer relay.Dialer = hub
	var late *lateHandler
	if opts.Docker.Host != "" {
		// Workloads on an engine run the real agent, which dials a network
		// relay and reports to the functions endpoint: serve both where the
		// engine's containers reach them.
		d, err := sl.dockerCallbacks(ctx, opts, secret, log)
		if err != nil {
			return nil, err
		}
		relayURL, dialer, late = d.relayURL, wsclient.Dialer{}, d.api
		if opts.Registry == nil {
			opts.Registry = engineRegistry{c: d.client}
		}
		newProvider = func(rep providers.Reporter) (providers.Provider, error) {
			return docker.New(docker.Options{Client: d.client, Reporter: rep, Secret: secret, RelayURL: d.relayURL,
				ControlPlaneURL: d.controlURL, AgentPath: opts.Docker.AgentPath, RelaySocket: d.relaySocket})
		}
	} else if opts.Synthetic {
		newProvider = func(rep providers.Reporter) (providers.Provider, error) {
			return synthetic.New(synthetic.Options{Hub: hub, Reporter: rep, RunTime: opts.SyntheticRunTime}), nil
		}
	} else {
		sb, stateDir, err := sl.sandbox(ctx, opts)
		if err != nil {
			return nil, err
		}
		newProvider = func(rep providers.Reporter) (providers.Provider, error) {
			return memory.New(memory.Options{Hub: hub, Reporter: rep, Sandbox: sb, StateDir: stateDir})
		}
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = time.Minute
	}
	sl.sweeper = sweeper.New(interval, log)
	api, err := functions.New(ctx, functions.Config{
		Store: store, NewProvider: newProvider, Secret: secret, RelayURL: relayURL, Dialer: dialer,
		PollWindow: opts.PollWindow, Registry: opts.Registry, Logger: log, Version: opts.Version,
		HostBinds: true, // the embedded daemon runs on the client's host
		Wake:      sl.sweeper.Wake, Notifier: hub,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if late != nil {
		late.set(api)
	}
	shim, err := localshim.New(localshim.Options{
		Transport: localshim.HandlerTransport{Handler: api}, Dialer: dialer, PollWindow: opts.PollWindow, Logger: log,
		Backoff: opts.PollBackoff, After: opts.PollAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	sl.Handler, sl.API = shim, api
	// The process is the scheduler: sweep now (what a previous process on
	// the same store left) and then as records ask.
	sl.sweeper.Start(api.Sweep)
	return sl, nil
}

// sandbox prepares the WASM sandbox and the memory provider's state
// directory, registering their clean-up with s.
func (s *Sockerless) sandbox(ctx context.Context, opts Options) (*sandbox.Sandbox, string, error) {
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(d, "sockerless", "wazero")
		}
	}
	sb, err := sandbox.New(ctx, sandbox.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, "", fmt.Errorf("embedded: %w", err)
	}
	s.closers = append(s.closers, func() error { return sb.Close(context.Background()) })
	stateDir := opts.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "sockerless-state-"); err != nil {
			return nil, "", err
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(stateDir) })
	}
	return sb, stateDir, nil
}

// Close releases the instance's sandbox, state directory and store.
func (s *Sockerless) Close() error {
	s.sweeper.Stop()
	s.API.Close()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(append(errs, s.store.Close())...)
}
