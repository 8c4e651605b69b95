// Package countstore wraps a statestore.Store and counts the calls made
// to it, each of which is one round trip to the backing service (a
// DynamoDB transaction, a Firestore commit, an Azure batch...). It is how
// the benchmarks measure the store round trips per Docker operation.
//
// A Store method that pages (List) or retries internally still counts as
// one call here; the counts are of calls the control plane makes, which
// for every store but a paged List of more than one page is also the
// number of requests sent.
package countstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sockerless/sockerless/statestore"
)

// Op names a Store method.
type Op string

// The counted methods.
const (
	OpGet         Op = "Get"
	OpGetByName   Op = "GetByName"
	OpCreate      Op = "Create"
	OpUpdate      Op = "Update"
	OpDelete      Op = "Delete"
	OpList        Op = "List"
	OpAppendEvent Op = "AppendEvent"
	OpEvents      Op = "Events"
)

// IsWrite reports whether op writes.
func (op Op) IsWrite() bool {
	switch op {
	case OpCreate, OpUpdate, OpDelete, OpAppendEvent:
		return true
	}
	return false
}

// Key is what one call is counted under: the method and the record kind
// ("" for the event log).
type Key struct {
	Op   Op
	Kind string
}

// Counts is a snapshot of calls by Key.
type Counts map[Key]int

// Total is the number of calls.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Writes is the number of calls that write.
func (c Counts) Writes() int {
	n := 0
	for k, v := range c {
		if k.Op.IsWrite() {
			n += v
		}
	}
	return n
}

// Reads is the number of calls that only read.
func (c Counts) Reads() int { return c.Total() - c.Writes() }

// Sub returns c minus before, dropping keys that did not change.
func (c Counts) Sub(before Counts) Counts {
	out := Counts{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// String lists the calls as "Get container=2 Update container=1 ...",
// sorted, for logs and failure messages.
func (c Counts) String() string {
	parts := make([]string, 0, len(c))
	for k, v := range c {
		what := string(k.Op)
		if k.Kind != "" {
			what += " " + k.Kind
		}
		parts = append(parts, fmt.Sprintf("%s=%d", what, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Store counts the calls made to the Store it wraps. Safe for concurrent
// use. It passes the wrapped store's Watcher through when it has one.
type Store struct {
	inner  statestore.Store
	mu     sync.Mutex
	counts Counts
	trace  func(Call)
}

// Call is one counted call, as passed to a trace function.
type Call struct {
	Key
	// ID is the record id or name ("" for List and the event log).
	ID string
}

// Trace sets a function called (synchronously, in call order per
// goroutine) with every call from now on; nil stops tracing.
func (s *Store) Trace(fn func(Call)) {
	s.mu.Lock()
	s.trace = fn
	s.mu.Unlock()
}

var _ statestore.Store = (*Store)(nil)

// New wraps s.
func New(s statestore.Store) *Store { return &Store{inner: s, counts: Counts{}} }

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() statestore.Store { return s.inner }

// Counts returns a snapshot of the calls so far.
func (s *Store) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(Counts, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func (s *Store) count(op Op, kind string, id ...string) {
	s.mu.Lock()
	s.counts[Key{op, kind}]++
	trace := s.trace
	s.mu.Unlock()
	if trace != nil {
		c := Call{Key: Key{op, kind}}
		if len(id) > 0 {
			c.ID = id[0]
		}
		trace(c)
	}
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	s.count(OpGet, kind, id)
	return s.inner.Get(ctx, kind, id)
}

// GetByName implements statestore.Store.
func (s *Store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	s.count(OpGetByName, kind, name)
	return s.inner.GetByName(ctx, kind, name)
}

// Create implements statestore.Store.
func (s *Store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	s.count(OpCreate, r.Kind, r.ID)
	return s.inner.Create(ctx, r, evs...)
}

// Update implements statestore.Store.
func (s *Store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	s.count(OpUpdate, r.Kind, r.ID)
	return s.inner.Update(ctx, r, evs...)
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	s.count(OpDelete, kind, id)
	return s.inner.Delete(ctx, kind, id, version, evs...)
}

// List implements statestore.Store.
func (s *Store) List(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	s.count(OpList, kind)
	return s.inner.List(ctx, kind, opts)
}

// AppendEvent implements statestore.Store.
func (s *Store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	s.count(OpAppendEvent, "")
	return s.inner.AppendEvent(ctx, e)
}

// Events implements statestore.Store.
func (s *Store) Events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	s.count(OpEvents, "")
	return s.inner.Events(ctx, q)
}

// Close implements statestore.Store.
func (s *Store) Close() error { return s.inner.Close() }

// Watching is a counting Store over a store that is also a
// statestore.Watcher; Wrap returns one for such stores so that long waits
// keep their notifications.
type Watching struct {
	*Store
	w statestore.Watcher
}

// Changed implements statestore.Watcher.
func (w Watching) Changed(kind, id string) <-chan struct{} { return w.w.Changed(kind, id) }

// Wrap wraps s, keeping its Watcher when it has one; it returns the
// store to use and the *Store to read the counts from.
func Wrap(s statestore.Store) (statestore.Store, *Store) {
	c := New(s)
	if w, ok := s.(statestore.Watcher); ok {
		return Watching{c, w}, c
	}
	return c, c
}
