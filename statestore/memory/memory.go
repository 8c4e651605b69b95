// Package memory is the in-process statestore.Store: maps behind one mutex.
// It is what embedded mode uses and the reference the conformance suite is
// written against. It also implements statestore.Watcher so long waits wake
// on change instead of polling.
package memory

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sockerless/sockerless/statestore"
)

// Store is an in-memory statestore.Store. The zero value is not usable; call
// New. Safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	now     func() time.Time
	records map[string]map[string]statestore.Record // kind -> id -> record
	names   map[string]map[string]string            // kind -> name -> id
	events  []statestore.Event
	seq     uint64
	waiters map[string]chan struct{} // kind/id -> closed on change
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for TTL and event times. Default time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:     time.Now,
		records: map[string]map[string]statestore.Record{},
		names:   map[string]map[string]string{},
		waiters: map[string]chan struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ statestore.Store = (*Store)(nil)
var _ statestore.Watcher = (*Store)(nil)

// get returns a live record; expired ones are dropped on sight. Caller holds mu.
func (s *Store) get(kind, id string) (statestore.Record, bool) {
	r, ok := s.records[kind][id]
	if !ok {
		return r, false
	}
	if !statestore.Live(r.Expires, s.now()) {
		s.drop(r)
		return statestore.Record{}, false
	}
	return r, true
}

func (s *Store) drop(r statestore.Record) {
	delete(s.records[r.Kind], r.ID)
	for _, n := range r.Names {
		if s.names[r.Kind][n] == r.ID {
			delete(s.names[r.Kind], n)
		}
	}
	s.notify(r.Kind, r.ID)
}

func (s *Store) notify(kind, id string) {
	key := kind + "/" + id
	if ch, ok := s.waiters[key]; ok {
		close(ch)
		delete(s.waiters, key)
	}
}

// Changed implements statestore.Watcher.
func (s *Store) Changed(kind, id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := kind + "/" + id
	ch, ok := s.waiters[key]
	if !ok {
		ch = make(chan struct{})
		s.waiters[key] = ch
	}
	return ch
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.get(kind, id)
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, id)
	}
	return statestore.Clone(r), nil
}

// GetByName implements statestore.Store.
func (s *Store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.names[kind][name]
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	r, ok := s.get(kind, id)
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	return statestore.Clone(r), nil
}

// checkNames reports a conflict if any of names is held by a record other
// than id. Caller holds mu.
func (s *Store) checkNames(kind, id string, names []string) error {
	for _, n := range names {
		if holder, ok := s.names[kind][n]; ok && holder != id {
			if _, live := s.get(kind, holder); live {
				return &statestore.NameConflictError{Kind: kind, Name: n}
			}
		}
	}
	return nil
}

func (s *Store) claim(r statestore.Record) {
	if s.names[r.Kind] == nil {
		s.names[r.Kind] = map[string]string{}
	}
	for _, n := range r.Names {
		s.names[r.Kind][n] = r.ID
	}
}

// Create implements statestore.Store.
func (s *Store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return statestore.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.get(r.Kind, r.ID); ok {
		return statestore.Record{}, statestore.ConflictExists(r.Kind, r.ID)
	}
	if err := s.checkNames(r.Kind, r.ID, r.Names); err != nil {
		return statestore.Record{}, err
	}
	r = statestore.Clone(r)
	r.Version = 1
	if s.records[r.Kind] == nil {
		s.records[r.Kind] = map[string]statestore.Record{}
	}
	s.records[r.Kind][r.ID] = r
	s.claim(r)
	s.notify(r.Kind, r.ID)
	s.appendEvents(evs)
	return statestore.Clone(r), nil
}

// Update implements statestore.Store.
func (s *Store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return statestore.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.get(r.Kind, r.ID)
	if !ok {
		return statestore.Record{}, statestore.NotFound(r.Kind, r.ID)
	}
	if cur.Version != r.Version {
		return statestore.Record{}, statestore.ConflictVersion(r.Kind, r.ID)
	}
	if err := s.checkNames(r.Kind, r.ID, r.Names); err != nil {
		return statestore.Record{}, err
	}
	for _, n := range cur.Names {
		delete(s.names[r.Kind], n)
	}
	r = statestore.Clone(r)
	r.Version = cur.Version + 1
	s.records[r.Kind][r.ID] = r
	s.claim(r)
	s.notify(r.Kind, r.ID)
	s.appendEvents(evs)
	return statestore.Clone(r), nil
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.get(kind, id)
	if !ok {
		return statestore.NotFound(kind, id)
	}
	if version != 0 && cur.Version != version {
		return statestore.ConflictVersion(kind, id)
	}
	s.drop(cur)
	s.appendEvents(evs)
	return nil
}

// List implements statestore.Store.
func (s *Store) List(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	if err := ctx.Err(); err != nil {
		return statestore.Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.records[kind]))
	for id, r := range s.records[kind] {
		if opts.Group != "" && r.Group != opts.Group {
			continue
		}
		if opts.PageToken != "" && id <= opts.PageToken {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	limit := opts.Limit
	if limit <= 0 {
		limit = 1000
	}
	var page statestore.Page
	for _, id := range ids {
		r, ok := s.get(kind, id)
		if !ok {
			continue
		}
		if len(page.Records) == limit {
			page.NextPageToken = page.Records[len(page.Records)-1].ID
			break
		}
		page.Records = append(page.Records, statestore.Clone(r))
	}
	return page, nil
}

// AppendEvent implements statestore.Store.
func (s *Store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	if err := ctx.Err(); err != nil {
		return statestore.Event{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e = s.append(e)
	s.pruneEvents()
	s.notify(statestore.KindEvents, "")
	return e, nil
}

// append adds e to the log and returns it with its cursor. Caller holds mu.
func (s *Store) append(e statestore.Event) statestore.Event {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.seq++
	e.Data = slices.Clone(e.Data)
	e.Cursor = statestore.NewCursor(e.Time, strconv.FormatUint(s.seq+1e9, 10))
	// Keep the log sorted by cursor even if a caller supplies an older time.
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].Cursor > e.Cursor })
	s.events = slices.Insert(s.events, i, e)
	return e
}

// appendEvents adds the events of a write. Caller holds mu.
func (s *Store) appendEvents(evs []statestore.Event) {
	if len(evs) == 0 {
		return
	}
	for _, e := range evs {
		s.append(e)
	}
	s.pruneEvents()
	s.notify(statestore.KindEvents, "")
}

// pruneEvents drops expired events. Caller holds mu.
func (s *Store) pruneEvents() {
	now := s.now()
	s.events = slices.DeleteFunc(s.events, func(e statestore.Event) bool { return !statestore.Live(e.Expires, now) })
}

// Events implements statestore.Store.
func (s *Store) Events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneEvents()
	var out []statestore.Event
	for _, e := range s.events {
		if q.After != "" && e.Cursor <= q.After {
			continue
		}
		if !q.Since.IsZero() && e.Time.Before(q.Since) {
			continue
		}
		if !q.Until.IsZero() && e.Time.After(q.Until) {
			continue
		}
		e.Data = slices.Clone(e.Data)
		out = append(out, e)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// Close implements statestore.Store; the memory store has nothing to release.
func (s *Store) Close() error { return nil }
