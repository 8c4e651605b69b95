// Package sweeper calls a control plane's reconcile sweep on a timer, for
// processes that have no scheduler in front of them (embedded mode, a
// long-running sockerless-functions). The functions tier keeps no timers
// of its own: a record that asks for later work (a restart by policy)
// wakes the sweeper through Wake, and a periodic sweep finds what no
// record announced (workloads that vanished without an exit report).
package sweeper

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sockerless/sockerless/functions"
)

// SweepFunc runs one sweep; *functions.API's Sweep is one.
type SweepFunc func(ctx context.Context) (functions.SweepReport, error)

// Sweeper runs a SweepFunc when woken and every interval. Safe for
// concurrent use.
type Sweeper struct {
	sweep    SweepFunc
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	timer *time.Timer
	due   time.Time // when the timer fires; zero when it is stopped
	done  chan struct{}
	wg    sync.WaitGroup
}

// New returns a stopped Sweeper; Start starts it. interval <= 0 means no
// periodic sweep (only those Wake asks for). log may be nil.
func New(interval time.Duration, log *slog.Logger) *Sweeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{interval: interval, log: log, done: make(chan struct{})}
}

// Wake asks for a sweep at (or soon after) at. It never blocks; before
// Start it only records the time.
func (s *Sweeper) Wake(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.due.IsZero() && !at.Before(s.due) {
		return
	}
	s.due = at
	if s.timer != nil {
		s.timer.Reset(time.Until(at))
	}
}

// Start sweeps once at once (reconciling what a previous process left)
// and then as woken and every interval, until Stop.
func (s *Sweeper) Start(sweep SweepFunc) {
	s.mu.Lock()
	s.sweep = sweep
	s.timer = time.NewTimer(0)
	s.due = time.Now()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.loop()
}

func (s *Sweeper) loop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.done; cancel() }()
	for {
		select {
		case <-s.done:
			return
		case <-s.timer.C:
		}
		s.mu.Lock()
		s.due = time.Time{}
		s.mu.Unlock()
		rep, err := s.sweep(ctx)
		if err != nil {
			s.log.Warn("sweep failed", "err", err)
		} else if len(rep.Restarted)+len(rep.Reconciled)+len(rep.Failed) > 0 {
			s.log.Info("sweep", "restarted", len(rep.Restarted), "reconciled", len(rep.Reconciled), "failed", len(rep.Failed))
		}
		var next time.Time
		switch {
		case rep.More:
			next = time.Now()
		case s.interval > 0:
			next = time.Now().Add(s.interval)
		}
		if !rep.Next.IsZero() && (next.IsZero() || rep.Next.Before(next)) {
			next = rep.Next
		}
		if !next.IsZero() {
			s.Wake(next)
		}
	}
}

// Stop ends the sweeps and waits for one in progress.
func (s *Sweeper) Stop() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
}
