package statestore

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// MaxAttempts bounds the retries of a store operation that lost a race.
const MaxAttempts = 50

// Backoff sleeps before retry attempt+1 of an operation that lost a race
// (1 ms doubling to 128 ms, with jitter), or fails with an Unavailable
// error naming store once MaxAttempts are spent.
func Backoff(ctx context.Context, store string, attempt int) error {
	if attempt >= MaxAttempts {
		return errdefs.Unavailablef("%s: gave up after %d attempts under contention", store, attempt+1)
	}
	d := time.Millisecond << min(attempt, 7)
	d += time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// UniqueNames returns names without duplicates, in order.
func UniqueNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Clone returns r with its own copies of Names and Data, so a store never
// shares slices with its caller.
func Clone(r Record) Record {
	r.Names = slices.Clone(r.Names)
	r.Data = slices.Clone(r.Data)
	return r
}
