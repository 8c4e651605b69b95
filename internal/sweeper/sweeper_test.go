package sweeper

import (
	"context"
	"testing"
	"time"

	"github.com/sockerless/sockerless/functions"
)

// TestSweeper: it sweeps at start, when woken, and at the time a sweep
// reports as next; Stop ends it.
func TestSweeper(t *testing.T) {
	calls := make(chan struct{}, 16)
	var next time.Time
	sweep := func(ctx context.Context) (functions.SweepReport, error) {
		calls <- struct{}{}
		rep := functions.SweepReport{Next: next}
		next = time.Time{}
		return rep, nil
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("no sweep %s", what)
		}
	}
	s := New(0, nil)  // no periodic sweep
	next = time.Now() // the first sweep reports a restart due now
	s.Start(sweep)
	wait("at start")
	wait("at the next restart the first sweep reported")
	s.Wake(time.Now())
	wait("when woken")
	s.Stop()
	s.Wake(time.Now())
	select {
	case <-calls:
		t.Fatal("swept after Stop")
	default:
	}
}
