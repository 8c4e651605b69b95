// Package core is what the resource-family routers of package functions
// share: the records store and the provider behind one Backend, and the
// operations more than one family performs (starting, stopping, removing
// and ending containers, attaching them to networks, creating and removing
// volumes, signing stream tickets, long polls, events, request bodies
// carried through the relay's blob store, the periodic sweep).
//
// A family router declares the small interface it uses of Backend, of the
// records store and of the provider; package functions assembles them.
// Backend keeps no per-request memory: everything it knows it reads from
// the store.
package core

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sockerless/sockerless/functions/records"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/relay"
)

// Config is the part of the deployment's configuration the shared
// operations and the routers read. The zero value of each field is
// documented with functions.Config, which fills in the defaults.
type Config struct {
	// Secret signs stream tickets and derives agent tokens.
	Secret []byte
	// RelayURL is put in stream tickets ("inproc:" for the embedded relay).
	RelayURL string
	// Dialer lets functions open a session itself, for detached execs.
	Dialer relay.Dialer
	// PollWindow bounds how long one request may wait.
	PollWindow time.Duration
	// TicketTTL is how long a stream ticket is valid.
	TicketTTL time.Duration
	// PullTimeout bounds registry access during a pull.
	PullTimeout time.Duration
	// Registry is how images are fetched and logins checked.
	Registry Registry
	// HostBinds allows binds of host paths.
	HostBinds bool
	// Version is reported by /version.
	Version string
	// AnswerPollsAtOnce answers every bounded poll after one step.
	AnswerPollsAtOnce bool
	// Notifier, when set, is told when a container exits or is removed.
	Notifier relay.Notifier
	// Wake, when set, is told when a record asks for work at a later time.
	Wake func(at time.Time)
}

// Backend is the shared state of one API: its configuration, the records
// store, the provider and the logger. It is safe for concurrent use.
type Backend struct {
	cfg      Config
	st       *records.Store
	provider providers.Provider
	log      *slog.Logger
	// closed ends in-process providers' report retries (see reporter).
	closed    chan struct{}
	closeOnce sync.Once
}

// New builds a Backend over st and the provider newProvider returns;
// newProvider is given the Backend's retrying providers.Reporter. A nil
// log discards.
//
// # Errors
//
// Whatever newProvider returns, wrapped.
func New(cfg Config, st *records.Store, log *slog.Logger, newProvider func(providers.Reporter) (providers.Provider, error)) (*Backend, error) {
	if st == nil || newProvider == nil {
		return nil, errors.New("core: a store and a provider are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{cfg: cfg, st: st, log: log, closed: make(chan struct{})}
	p, err := newProvider(reporter{b})
	if err != nil {
		return nil, fmt.Errorf("functions: provider: %w", err)
	}
	b.provider = p
	return b, nil
}

// Close ends the retries of in-process providers' reports.
func (a *Backend) Close() {
	a.closeOnce.Do(func() { close(a.closed) })
}

// Provider returns the provider the Backend drives.
func (a *Backend) Provider() providers.Provider { return a.provider }

// Store returns the records store.
func (a *Backend) Store() *records.Store { return a.st }

// Config returns the configuration.
func (a *Backend) Config() Config { return a.cfg }

// Log returns the logger.
func (a *Backend) Log() *slog.Logger { return a.log }
