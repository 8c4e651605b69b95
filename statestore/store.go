// Package statestore defines the one interface every Sockerless state store
// implements: versioned records with conditional writes, names that are
// unique per kind and reserved atomically with their record, listings by kind
// (and optionally by group) that never scan the whole store, and an ordered
// event log with cursors. Expiring records and events disappear by TTL.
//
// Implementations live in sub-packages (memory, dynamodb, firestore,
// aztables) and all pass the same conformance suite, storetest.Run.
package statestore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
)

// Record is one stored object. The store treats Data as opaque bytes.
type Record struct {
	// Kind is the object type ("container", "image", ...). Required.
	Kind string
	// ID identifies the record within its kind. Required.
	ID string
	// Names are unique within Kind across all records: a Create or Update
	// that would claim a name another record holds fails with a
	// *NameConflictError. Names are released when the record is deleted or
	// updated without them.
	Names []string
	// Group is an optional secondary listing key, such as the container id
	// of an exec record. List with ListOptions.Group returns only its members.
	Group string
	// Data is the record's payload, usually JSON.
	Data []byte
	// Version is set by the store: 1 after Create, incremented by each Update.
	// Update and Delete succeed only when it equals the stored version.
	Version int64
	// Expires, when not zero, is when the record stops being visible.
	Expires time.Time
}

// ListOptions selects and pages a listing. The zero value lists a whole kind.
type ListOptions struct {
	// Group, when not empty, lists only records with that Group.
	Group string
	// Limit caps the records returned in one page; 0 means the store's default
	// page size (at least 100).
	Limit int
	// PageToken continues from a previous Page.NextPageToken.
	PageToken string
}

// Page is one page of a listing, ordered by ID.
type Page struct {
	Records []Record
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// Event is one entry of the store's event log.
type Event struct {
	// Cursor orders events; it is assigned by AppendEvent and sorts
	// lexically in append order (time first).
	Cursor string
	// Time is when the event happened.
	Time time.Time
	// Data is the payload, usually JSON.
	Data []byte
	// Expires, when not zero, is when the event leaves the log.
	Expires time.Time
}

// EventQuery selects events. The zero value returns every live event.
type EventQuery struct {
	// After returns only events whose Cursor sorts after it.
	After string
	// Since and Until bound Event.Time, inclusive; zero means unbounded.
	Since, Until time.Time
	// Limit caps the number of events returned; 0 means no cap.
	Limit int
}

// Store is the state store every control-plane handler works against.
// Implementations are safe for concurrent use by many processes.
//
// # Events with a write
//
// Create, Update and Delete take the events that report the change and
// append them in the same call: a write that fails (a conflict, a missing
// record, an unreachable store) appends none of them, and one that
// succeeds appends all of them, with cursors in the order given, so a
// reader of the log never sees an event for a change that did not happen
// and a handler needs no second round trip for its event. Memory, DynamoDB
// (TransactWriteItems) and Firestore (one transaction) write the record
// and its events atomically. Azure Table Storage can only make one
// partition's rows atomic, and the log is its own partition: it commits
// the record's transaction first and then appends the events in one
// entity group transaction of their own; should that second request fail,
// the write returns an error wrapping ErrEventsLost, the change stays
// made, and callers treat it as made (as they treat an AppendEvent that
// fails after a write).
//
// # Errors
//
// Get, GetByName and Delete of a missing record return errdefs.ErrNotFound.
// Create of an existing ID and Update/Delete with a stale version return
// errdefs.ErrConflict wrapping ErrVersion or ErrExists; a taken name returns
// *NameConflictError (also ErrConflict). A store that cannot be reached
// returns errdefs.ErrUnavailable.
type Store interface {
	// Get returns the record kind/id.
	Get(ctx context.Context, kind, id string) (Record, error)
	// GetByName returns the record of kind that holds name.
	GetByName(ctx context.Context, kind, name string) (Record, error)
	// Create stores r if no record kind/id exists and none of its names is
	// taken, atomically, and appends evs to the event log with it (see
	// "Events with a write"). It returns r with Version 1.
	Create(ctx context.Context, r Record, evs ...Event) (Record, error)
	// Update replaces the record if r.Version is the stored version, swapping
	// its names atomically, and appends evs with it. It returns r with the
	// new version.
	Update(ctx context.Context, r Record, evs ...Event) (Record, error)
	// Delete removes the record and releases its names if version is the
	// stored version (version 0 deletes unconditionally), and appends evs
	// with it.
	Delete(ctx context.Context, kind, id string, version int64, evs ...Event) error
	// List returns a page of records of kind, ordered by ID.
	List(ctx context.Context, kind string, opts ListOptions) (Page, error)
	// AppendEvent adds e to the log and returns it with its Cursor set.
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// Events returns events matching q in cursor order.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// Close releases the store's resources.
	Close() error
}

// Watcher is an optional extension: a store that can tell waiters when a
// record changes, so long waits need not poll. Stores without it are polled.
type Watcher interface {
	// Changed returns a channel closed after the next change to kind/id (or
	// to the event log when kind is KindEvents).
	Changed(kind, id string) <-chan struct{}
}

// KindEvents names the event log for Watcher.Changed.
const KindEvents = "_events"

// Unreachable is how a store's error message says that the service did
// not answer (connection refused, reset or timed out), so that a Docker
// client sees why it got a 503: "dynamodb: state store unreachable: ...".
const Unreachable = "state store unreachable"

// ErrVersion is wrapped by the conflict a stale Update or Delete returns.
var ErrVersion = fmt.Errorf("record version mismatch")

// ErrEventsLost is wrapped by the error of a write that was made but whose
// events could not be appended (only a store that cannot write both
// atomically returns it).
var ErrEventsLost = fmt.Errorf("change stored, its events were not appended")

// ErrExists is wrapped by the conflict a Create of an existing ID returns.
var ErrExists = fmt.Errorf("record already exists")

// NameConflictError reports that a name is held by another record.
type NameConflictError struct {
	Kind, Name string
}

func (e *NameConflictError) Error() string {
	return fmt.Sprintf("%s name %q is already in use", e.Kind, e.Name)
}

// Conflict marks NameConflictError as errdefs.ErrConflict.
func (e *NameConflictError) Conflict() {}

// ConflictVersion returns the conflict error for a stale version.
func ConflictVersion(kind, id string) error {
	return errdefs.Conflict(fmt.Errorf("%s %s: %w", kind, id, ErrVersion))
}

// ConflictExists returns the conflict error for a duplicate Create.
func ConflictExists(kind, id string) error {
	return errdefs.Conflict(fmt.Errorf("%s %s: %w", kind, id, ErrExists))
}

// NotFound returns the not-found error for kind/id.
func NotFound(kind, id string) error {
	return errdefs.NotFoundf("%s %s: record not found", kind, id)
}

// NewCursor returns an event cursor for t: the time in zero-padded
// nanoseconds so cursors sort by time, then a tiebreaker unique to the
// appending store (a sequence number or random suffix).
func NewCursor(t time.Time, tiebreak string) string {
	return fmt.Sprintf("%020d-%s", t.UnixNano(), tiebreak)
}

// CursorTime returns the time encoded in a cursor made by NewCursor.
func CursorTime(cursor string) (time.Time, bool) {
	if len(cursor) < 20 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(cursor[:20], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// Validate checks the fields every store requires of a record.
func Validate(r Record) error {
	if r.Kind == "" || r.ID == "" {
		return errdefs.InvalidParameterf("record needs a kind and an id")
	}
	for _, n := range r.Names {
		if n == "" {
			return errdefs.InvalidParameterf("record %s/%s has an empty name", r.Kind, r.ID)
		}
	}
	return nil
}

// Live reports whether something expiring at exp is visible at now.
func Live(exp, now time.Time) bool { return exp.IsZero() || now.Before(exp) }
