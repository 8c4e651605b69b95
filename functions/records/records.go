// Package records is the control plane's typed view of the state store:
// containers, execs, images and their tags, networks, volumes and events,
// each stored as one JSON statestore.Record. It owns the mapping from Docker
// objects to store keys (names, groups, TTLs) and the optimistic-concurrency
// retry loop, so handlers never touch statestore.Record directly.
//
// Records are this project's own types. Where a record keeps what the user
// asked for (a container's Config and HostConfig) it stores the Docker wire
// types as Docker's own daemon does in config.v2.json; state the control
// plane derives (container state, IP allocations) is in own fields.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// Store kinds.
const (
	KindContainer = "container"
	KindExec      = "exec"
	KindImage     = "image"
	KindTag       = "tag"
	KindNetwork   = "network"
	KindVolume    = "volume"
)

// Store wraps a statestore.Store with typed accessors. Safe for concurrent
// use; it holds no per-object memory.
type Store struct {
	s   statestore.Store
	now func() time.Time
	// EventTTL is how long events stay in the log (default 1 h).
	EventTTL time.Duration
	// ExecTTL is how long a finished exec stays inspectable (default 1 h).
	ExecTTL time.Duration
}

// New returns a typed view of s.
func New(s statestore.Store) *Store {
	return &Store{s: s, now: time.Now, EventTTL: time.Hour, ExecTTL: time.Hour}
}

// Raw returns the underlying store.
func (st *Store) Raw() statestore.Store { return st.s }

// Now returns the store's clock.
func (st *Store) Now() time.Time { return st.now() }

// kind describes how one record type maps onto the store.
type kind[T any] struct {
	name  string
	id    func(*T) string
	names func(*T) []string
	group func(*T) string
	ttl   func(*T) time.Time
	// version, when set, points at the field that carries the stored
	// version of a decoded value, so a later write can start from it.
	version func(*T) *int64
}

func (k kind[T]) record(v *T, version int64) (statestore.Record, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return statestore.Record{}, fmt.Errorf("encode %s: %w", k.name, err)
	}
	r := statestore.Record{Kind: k.name, ID: k.id(v), Data: data, Version: version}
	if k.names != nil {
		r.Names = k.names(v)
	}
	if k.group != nil {
		r.Group = k.group(v)
	}
	if k.ttl != nil {
		r.Expires = k.ttl(v)
	}
	return r, nil
}

func (k kind[T]) decode(r statestore.Record) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(r.Data, v); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", k.name, r.ID, err)
	}
	k.setVersion(v, r.Version)
	return v, nil
}

func (k kind[T]) setVersion(v *T, ver int64) {
	if k.version != nil {
		*k.version(v) = ver
	}
}

func (k kind[T]) get(ctx context.Context, s statestore.Store, id string) (*T, int64, error) {
	r, err := s.Get(ctx, k.name, id)
	if err != nil {
		return nil, 0, err
	}
	v, err := k.decode(r)
	return v, r.Version, err
}

func (k kind[T]) getByName(ctx context.Context, s statestore.Store, name string) (*T, error) {
	r, err := s.GetByName(ctx, k.name, name)
	if err != nil {
		return nil, err
	}
	return k.decode(r)
}

func (k kind[T]) create(ctx context.Context, s statestore.Store, v *T, evs ...statestore.Event) error {
	r, err := k.record(v, 0)
	if err != nil {
		return err
	}
	_, err = s.Create(ctx, r, evs...)
	if err == nil || errors.Is(err, statestore.ErrEventsLost) {
		k.setVersion(v, 1)
		return nil
	}
	return err
}

// Change says how mutate writes.
type Change[T any] struct {
	// From, when not nil, is the value as the caller read it (carrying its
	// version): the first attempt applies fn to a copy of it and writes
	// without reading the record again. A stale From costs one failed
	// write, then mutate reads as usual. From itself is not modified.
	From *T
	// Events, when not nil, returns the events that report the change,
	// given the value about to be written; they are appended in the same
	// store write (statestore "Events with a write").
	Events func(*T) []statestore.Event
}

// mutate applies fn to the current record and writes it back if the version
// did not move meanwhile, retrying on conflicts. fn may be called several
// times and must not have side effects outside v. If fn returns an error
// the record is left unchanged.
func (k kind[T]) mutate(ctx context.Context, s statestore.Store, id string, fn func(*T) error, ch Change[T]) (*T, error) {
	for attempt := 0; ; attempt++ {
		var v *T
		var ver int64
		var err error
		if attempt == 0 && ch.From != nil && k.version != nil && *k.version(ch.From) > 0 {
			ver = *k.version(ch.From)
			if v, err = k.clone(ch.From); err != nil {
				return nil, err
			}
		} else if v, ver, err = k.get(ctx, s, id); err != nil {
			return nil, err
		}
		if err := fn(v); err != nil {
			return nil, err
		}
		r, err := k.record(v, ver)
		if err != nil {
			return nil, err
		}
		var evs []statestore.Event
		if ch.Events != nil {
			evs = ch.Events(v)
		}
		nr, err := s.Update(ctx, r, evs...)
		if err == nil || errors.Is(err, statestore.ErrEventsLost) {
			k.setVersion(v, nr.Version)
			return v, nil
		}
		var nc *statestore.NameConflictError
		if !errdefs.IsConflict(err) || asNameConflict(err, &nc) || attempt > 100 {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// clone returns a deep copy of v (through its stored form).
func (k kind[T]) clone(v *T) (*T, error) {
	r, err := k.record(v, 0)
	if err != nil {
		return nil, err
	}
	c, err := k.decode(r)
	if err != nil {
		return nil, err
	}
	k.setVersion(c, *k.version(v))
	return c, nil
}

func (k kind[T]) delete(ctx context.Context, s statestore.Store, id string, version int64, evs ...statestore.Event) error {
	err := s.Delete(ctx, k.name, id, version, evs...)
	if errors.Is(err, statestore.ErrEventsLost) {
		return nil
	}
	return err
}

func (k kind[T]) list(ctx context.Context, s statestore.Store, group string) ([]*T, error) {
	var out []*T
	opts := statestore.ListOptions{Group: group}
	for {
		p, err := s.List(ctx, k.name, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Records {
			v, err := k.decode(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if p.NextPageToken == "" {
			return out, nil
		}
		opts.PageToken = p.NextPageToken
	}
}

func asNameConflict(err error, target **statestore.NameConflictError) bool {
	for e := err; e != nil; {
		if nc, ok := e.(*statestore.NameConflictError); ok {
			*target = nc
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// IDLength is the length of an object id: 32 random bytes in lowercase hex.
const IDLength = 64

// idLike reports whether ref could be an id or an id prefix (lowercase
// hex). Any other reference can only be a name, so resolve skips the id
// lookups for it: one store round trip fewer per name lookup.
func idLike(ref string) bool {
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// resolve finds an object by full id, by name, or by unique id prefix, the
// way Docker resolves a reference on the command line. notFound builds the
// error for a miss. A reference that cannot be an id costs one lookup
// (the name), a full-length id that is not found never lists the kind.
func resolve[T any](ctx context.Context, s statestore.Store, k kind[T], ref string, notFound func() error) (*T, error) {
	if ref == "" {
		return nil, notFound()
	}
	hex := idLike(ref)
	if hex {
		if v, _, err := k.get(ctx, s, ref); err == nil {
			return v, nil
		} else if !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	if k.names != nil {
		if v, err := k.getByName(ctx, s, ref); err == nil {
			return v, nil
		} else if !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	if !hex || len(ref) >= IDLength {
		return nil, notFound()
	}
	all, err := k.list(ctx, s, "")
	if err != nil {
		return nil, err
	}
	var match *T
	for _, v := range all {
		if strings.HasPrefix(k.id(v), ref) {
			if match != nil {
				return nil, errdefs.InvalidParameterf("multiple IDs found with provided prefix: %s", ref)
			}
			match = v
		}
	}
	if match == nil {
		return nil, notFound()
	}
	return match, nil
}
