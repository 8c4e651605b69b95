// Package embedded assembles the one-process Sockerless: the shim in front
// of the functions handler, an in-process relay, the memory state store and
// a provider. cmd/sockerless serves it; tests start it on a socket of their
// own.
package embedded

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sockerless/sockerless/functions"
	"github.com/sockerless/sockerless/localshim"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// Options configures an embedded Sockerless. The zero value is usable.
type Options struct {
	// Synthetic selects the synthetic provider, which runs no processes.
	Synthetic bool
	// SyntheticRunTime is how long the synthetic provider's main processes
	// run (default 50 ms).
	SyntheticRunTime time.Duration
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
}

// Sockerless is an assembled embedded instance.
type Sockerless struct {
	// Handler serves the Docker API (the shim).
	Handler http.Handler
	// API is the functions tier behind the shim.
	API   *functions.API
	store statestore.Store
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
		store = memory.New()
	}
	hub := relay.NewHub(secret)
	newProvider := func(rep providers.Reporter) (providers.Provider, error) {
		if !opts.Synthetic {
			log.Warn("the memory (WASM) provider is not built yet; using the synthetic provider, which runs no processes")
		}
		return synthetic.New(synthetic.Options{Hub: hub, Reporter: rep, RunTime: opts.SyntheticRunTime}), nil
	}
	api, err := functions.New(ctx, functions.Config{
		Store: store, NewProvider: newProvider, Secret: secret, RelayURL: "inproc:", Dialer: hub,
		PollWindow: opts.PollWindow, Registry: opts.Registry, Logger: log, Version: opts.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	shim, err := localshim.New(localshim.Options{Transport: localshim.HandlerTransport{Handler: api}, Dialer: hub, PollWindow: opts.PollWindow, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return &Sockerless{Handler: shim, API: api, store: store}, nil
}

// Close releases the instance's state store.
func (s *Sockerless) Close() error { return s.store.Close() }
