// Package firestore is the statestore.Store on Google Cloud Firestore
// (native mode), using cloud.google.com/go/firestore. It runs unchanged
// against the Firestore emulator (set FIRESTORE_EMULATOR_HOST).
//
// # Key design
//
// Under one root collection (Options.Collection, default "sockerless"):
//
//	<root>/<kind>/records/<id>      a record: id, names, group, data, version, expires, expireAt
//	<root>/<kind>/names/<name>      a name reservation: id (the holder), expires, expireAt
//	<root>/events/log/<cursor>      an event: time, data, expires, expireAt
//
// Kinds, ids and names become document IDs through docID, an escaping that
// keeps byte order (so ordering by document ID orders by id), never yields
// '/' and never collides with the reserved IDs ("." and "..", __x__): it
// prefixes "=", turns '.' into ".." and '/' into ".~". The "events"
// document cannot collide with a kind, whose ID always starts with "=".
//
// List is a query on one kind's records subcollection ordered by document
// ID (never a scan of the database); a group listing adds an equality
// filter on group, which Firestore serves from its automatic single-field
// index on group (entries are ordered by document ID within a value), so
// no composite index is needed.
//
// Writes are optimistic: the store reads the record and the name documents
// it touches, decides, and commits every write in one transaction whose
// writes carry preconditions (the document does not exist, or its update
// time is the one read). If anything changed in between, the commit fails
// its precondition and the store reads again, so of several racing
// creators of a name exactly one wins. A single write skips the
// transaction and is one precondition-guarded commit.
//
// Expiring documents carry expires (Unix nanoseconds, compared on every
// read) and expireAt (a timestamp). Firestore deletes nothing by itself:
// create a TTL policy on the expireAt field of the records, names and log
// collection groups (gcloud firestore fields ttls update expireAt
// --collection-group=records --enable-ttl, likewise names and log) to have
// expired documents removed, within a day or so of expiry.
//
// # Limits
//
//   - A document is at most 1 MiB: a record's data, names and fields must
//     fit in it (errdefs.ErrRequestTooLarge otherwise). Exempt the data
//     fields from indexing (single-field index exemption on records.data
//     and log.data) so large payloads are not indexed.
//   - A document ID is at most 1500 bytes, so ids and names of at most
//     about 700 bytes are always accepted (dots and slashes count twice).
//   - A transaction writes at most 500 documents: at most 498 names are
//     claimed and released in one write.
//   - The event log is one collection ordered by cursor; Firestore limits a
//     collection with a sequential index to about 500 writes a second.
//   - Ordering follows Firestore's string order, which is UTF-8 byte order
//     (the emulator compares UTF-16 units; they differ only for code points
//     above U+FFFF against U+E000..U+FFFF).
//   - Expiry is decided by the client's clock; keep clocks in sync.
package firestore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// DefaultCollection is the root collection used when Options.Collection is
// empty.
const DefaultCollection = "sockerless"

// DefaultPageSize is the page size of List when ListOptions.Limit is 0.
const DefaultPageSize = 100

// maxWrites is Firestore's limit on the writes of one transaction.
const maxWrites = 500

// Field names.
const (
	fieldID       = "id"
	fieldNames    = "names"
	fieldGroup    = "group"
	fieldData     = "data"
	fieldVersion  = "version"
	fieldExpires  = "expires"
	fieldExpireAt = "expireAt"
	fieldTime     = "time"
)

// Options configures a Store.
type Options struct {
	// Client is the Firestore client to use. When nil, New creates one from
	// ProjectID, DatabaseID and ClientOptions, and Close closes it.
	Client *firestore.Client
	// ProjectID is the Google Cloud project, required when Client is nil
	// (any ID works with the emulator).
	ProjectID string
	// DatabaseID is the Firestore database. Default "(default)".
	DatabaseID string
	// ClientOptions are passed to firestore.NewClient when Client is nil.
	// With FIRESTORE_EMULATOR_HOST set the client talks to the emulator.
	ClientOptions []option.ClientOption
	// Collection is the root collection. Default DefaultCollection.
	Collection string
	// PageSize is List's page size when ListOptions.Limit is 0. Default
	// DefaultPageSize.
	PageSize int
	// Timeout bounds each operation. The client retries an unreachable
	// backend until the context ends, so without a bound a Store method
	// would hang; when Timeout runs out first the method fails with
	// errdefs.ErrUnavailable. Default DefaultTimeout; negative disables.
	Timeout time.Duration
	// Now is the clock used for expiry and event times. Default time.Now.
	Now func() time.Time
}

// DefaultTimeout is the per-operation timeout when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Store is a statestore.Store on Firestore. Safe for concurrent use.
type Store struct {
	client    *firestore.Client
	ownClient bool
	root      *firestore.CollectionRef
	log       *firestore.CollectionRef
	pageSize  int
	timeout   time.Duration
	now       func() time.Time
	instance  string // random cursor tiebreak, unique to this Store
	seq       atomic.Uint64
}

var _ statestore.Store = (*Store)(nil)

// New returns a Store for opts. Firestore creates collections implicitly,
// so there is nothing to set up; the client connects lazily.
func New(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{client: opts.Client, pageSize: opts.PageSize, timeout: opts.Timeout, now: opts.Now}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.client == nil {
		if opts.ProjectID == "" {
			return nil, errdefs.InvalidParameterf("firestore: Options needs a Client or a ProjectID")
		}
		var c *firestore.Client
		var err error
		if db := opts.DatabaseID; db == "" || db == firestore.DefaultDatabaseID {
			c, err = firestore.NewClient(ctx, opts.ProjectID, opts.ClientOptions...)
		} else {
			c, err = firestore.NewClientWithDatabase(ctx, opts.ProjectID, db, opts.ClientOptions...)
		}
		if err != nil {
			return nil, classify(fmt.Errorf("firestore: creating client: %w", err))
		}
		s.client, s.ownClient = c, true
	}
	coll := opts.Collection
	if coll == "" {
		coll = DefaultCollection
	}
	s.root = s.client.Collection(coll)
	s.log = s.root.Doc("events").Collection("log")
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	var b [4]byte
	_, _ = crand.Read(b[:]) // never fails (Go 1.24+)
	s.instance = hex.EncodeToString(b[:])
	return s, nil
}

// Close implements statestore.Store: it closes the client if New made it.
func (s *Store) Close() error {
	if s.ownClient {
		return s.client.Close()
	}
	return nil
}

// errNoAnswer is the cause of an operation's own timeout.
var errNoAnswer = errors.New("firestore: operation timeout")

// op bounds one operation by the store's timeout. The returned function
// releases it and turns an error caused by that timeout into
// errdefs.ErrUnavailable.
func (s *Store) op(ctx context.Context) (context.Context, func(error) error) {
	if s.timeout <= 0 {
		return ctx, func(err error) error { return err }
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, errNoAnswer)
	return ctx, func(err error) error {
		defer cancel()
		if err != nil && errors.Is(context.Cause(ctx), errNoAnswer) {
			return errdefs.Unavailable(fmt.Errorf("firestore: %s (no answer within %v): %w", statestore.Unreachable, s.timeout, err))
		}
		return err
	}
}

// docID escapes s into a document ID, keeping byte order. See the package
// documentation.
func docID(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	b.WriteByte('=')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '.':
			b.WriteString("..")
		case '/':
			b.WriteString(".~")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (s *Store) recordRef(kind, id string) *firestore.DocumentRef {
	return s.root.Doc(docID(kind)).Collection("records").Doc(docID(id))
}

func (s *Store) nameRef(kind, name string) *firestore.DocumentRef {
	return s.root.Doc(docID(kind)).Collection("names").Doc(docID(name))
}

// Document fields.

func expiryFields(m map[string]any, exp time.Time) {
	if exp.IsZero() {
		m[fieldExpires] = int64(0)
		m[fieldExpireAt] = nil
		return
	}
	m[fieldExpires] = exp.UnixNano()
	m[fieldExpireAt] = exp
}

func recordFields(r statestore.Record) map[string]any {
	names := r.Names
	if names == nil {
		names = []string{}
	}
	data := r.Data
	if data == nil {
		data = []byte{}
	}
	m := map[string]any{
		fieldID:      r.ID,
		fieldNames:   names,
		fieldGroup:   r.Group,
		fieldData:    data,
		fieldVersion: r.Version,
	}
	expiryFields(m, r.Expires)
	return m
}

func nameFields(id string, exp time.Time) map[string]any {
	m := map[string]any{fieldID: id}
	expiryFields(m, exp)
	return m
}

func getString(m map[string]any, f string) string { v, _ := m[f].(string); return v }
func getInt(m map[string]any, f string) int64     { v, _ := m[f].(int64); return v }
func getBytes(m map[string]any, f string) []byte {
	v, _ := m[f].([]byte)
	if len(v) == 0 {
		return nil
	}
	return v
}

func expiry(m map[string]any) time.Time {
	if n := getInt(m, fieldExpires); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func snapRecord(kind string, snap *firestore.DocumentSnapshot) statestore.Record {
	m := snap.Data()
	r := statestore.Record{
		Kind:    kind,
		ID:      getString(m, fieldID),
		Group:   getString(m, fieldGroup),
		Data:    getBytes(m, fieldData),
		Version: getInt(m, fieldVersion),
		Expires: expiry(m),
	}
	if l, ok := m[fieldNames].([]any); ok {
		for _, v := range l {
			if n, ok := v.(string); ok {
				r.Names = append(r.Names, n)
			}
		}
	}
	return r
}

// liveSnap reports whether snap is an existing, unexpired document.
func liveSnap(snap *firestore.DocumentSnapshot, now time.Time) bool {
	return snap != nil && snap.Exists() && statestore.Live(expiry(snap.Data()), now)
}

// write is one document write of a commit, guarded by a precondition: if
// prev is a snapshot of an existing document, the document must still have
// prev's update time; otherwise it must not exist.
type write struct {
	ref    *firestore.DocumentRef
	prev   *firestore.DocumentSnapshot
	fields map[string]any // nil deletes the document
}

func updates(fields map[string]any) []firestore.Update {
	u := make([]firestore.Update, 0, len(fields))
	for k, v := range fields {
		u = append(u, firestore.Update{Path: k, Value: v})
	}
	return u
}

// commit applies writes atomically. It returns errLostRace if a
// precondition failed: something changed since the snapshots were read.
func (s *Store) commit(ctx context.Context, writes []write) error {
	if len(writes) > maxWrites {
		return errdefs.InvalidParameterf("firestore: a record can claim and release at most %d names in one write", maxWrites-2)
	}
	var err error
	if len(writes) == 1 {
		w := writes[0]
		switch {
		case w.fields == nil:
			_, err = w.ref.Delete(ctx, firestore.LastUpdateTime(w.prev.UpdateTime))
		case w.prev != nil && w.prev.Exists():
			_, err = w.ref.Update(ctx, updates(w.fields), firestore.LastUpdateTime(w.prev.UpdateTime))
		default:
			_, err = w.ref.Create(ctx, w.fields)
		}
	} else {
		err = s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			for _, w := range writes {
				var err error
				switch {
				case w.fields == nil:
					err = tx.Delete(w.ref, firestore.LastUpdateTime(w.prev.UpdateTime))
				case w.prev != nil && w.prev.Exists():
					err = tx.Update(w.ref, updates(w.fields), firestore.LastUpdateTime(w.prev.UpdateTime))
				default:
					err = tx.Create(w.ref, w.fields)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound, codes.Aborted:
		return errLostRace
	}
	return err
}

// errLostRace reports a commit whose preconditions failed.
var errLostRace = errors.New("firestore: concurrent change")

// getAll reads refs; missing documents come back as non-existing snapshots.
func (s *Store) getAll(ctx context.Context, refs []*firestore.DocumentRef) ([]*firestore.DocumentSnapshot, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	snaps, err := s.client.GetAll(ctx, refs)
	return snaps, classify(err)
}

// getLive reads one document; ok is false if it is missing or expired.
func (s *Store) getLive(ctx context.Context, ref *firestore.DocumentRef) (*firestore.DocumentSnapshot, bool, error) {
	snaps, err := s.getAll(ctx, []*firestore.DocumentRef{ref})
	if err != nil {
		return nil, false, err
	}
	return snaps[0], liveSnap(snaps[0], s.now()), nil
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	ctx, done := s.op(ctx)
	v, err := s.get(ctx, kind, id)
	return v, done(err)
}

func (s *Store) get(ctx context.Context, kind, id string) (statestore.Record, error) {
	snap, ok, err := s.getLive(ctx, s.recordRef(kind, id))
	if err != nil {
		return statestore.Record{}, err
	}
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, id)
	}
	return snapRecord(kind, snap), nil
}

// GetByName implements statestore.Store.
func (s *Store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	ctx, done := s.op(ctx)
	v, err := s.getByName(ctx, kind, name)
	return v, done(err)
}

func (s *Store) getByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	n, ok, err := s.getLive(ctx, s.nameRef(kind, name))
	if err != nil {
		return statestore.Record{}, err
	}
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	r, err := s.get(ctx, kind, getString(n.Data(), fieldID))
	if errdefs.IsNotFound(err) || (err == nil && !slices.Contains(r.Names, name)) {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	return r, err
}

// Create implements statestore.Store.
func (s *Store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	ctx, done := s.op(ctx)
	v, err := s.create(ctx, r, evs)
	return v, done(err)
}

func (s *Store) create(ctx context.Context, r statestore.Record, evs []statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	r = statestore.Clone(r)
	r.Version = 1
	ns := statestore.UniqueNames(r.Names)
	refs := []*firestore.DocumentRef{s.recordRef(r.Kind, r.ID)}
	for _, n := range ns {
		refs = append(refs, s.nameRef(r.Kind, n))
	}
	for attempt := 0; ; attempt++ {
		snaps, err := s.getAll(ctx, refs)
		if err != nil {
			return statestore.Record{}, err
		}
		now := s.now()
		if liveSnap(snaps[0], now) {
			return statestore.Record{}, statestore.ConflictExists(r.Kind, r.ID)
		}
		writes := []write{{ref: refs[0], prev: snaps[0], fields: recordFields(r)}}
		for i, n := range ns {
			snap := snaps[i+1]
			if liveSnap(snap, now) && getString(snap.Data(), fieldID) != r.ID {
				return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: n}
			}
			writes = append(writes, write{ref: refs[i+1], prev: snap, fields: nameFields(r.ID, r.Expires)})
		}
		err = s.commit(ctx, append(writes, s.eventWrites(evs)...))
		if err == nil {
			return statestore.Clone(r), nil
		}
		if err != errLostRace {
			return statestore.Record{}, classify(err)
		}
		if err := statestore.Backoff(ctx, "firestore", attempt); err != nil {
			return statestore.Record{}, err
		}
	}
}

// Update implements statestore.Store.
func (s *Store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	ctx, done := s.op(ctx)
	v, err := s.update(ctx, r, evs)
	return v, done(err)
}

func (s *Store) update(ctx context.Context, r statestore.Record, evs []statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	next := statestore.Clone(r)
	next.Version = r.Version + 1
	ref := s.recordRef(r.Kind, r.ID)
	for attempt := 0; ; attempt++ {
		snap, ok, err := s.getLive(ctx, ref)
		if err != nil {
			return statestore.Record{}, err
		}
		if !ok {
			return statestore.Record{}, statestore.NotFound(r.Kind, r.ID)
		}
		cur := snapRecord(r.Kind, snap)
		if cur.Version != r.Version {
			return statestore.Record{}, statestore.ConflictVersion(r.Kind, r.ID)
		}
		newNames, oldNames := statestore.UniqueNames(next.Names), statestore.UniqueNames(cur.Names)
		expChanged := !cur.Expires.Equal(next.Expires)
		var claim, release []string
		for _, n := range newNames {
			if expChanged || !slices.Contains(oldNames, n) {
				claim = append(claim, n)
			}
		}
		for _, n := range oldNames {
			if !slices.Contains(newNames, n) {
				release = append(release, n)
			}
		}
		var refs []*firestore.DocumentRef
		for _, n := range append(slices.Clone(claim), release...) {
			refs = append(refs, s.nameRef(r.Kind, n))
		}
		snaps, err := s.getAll(ctx, refs)
		if err != nil {
			return statestore.Record{}, err
		}
		now := s.now()
		writes := []write{{ref: ref, prev: snap, fields: recordFields(next)}}
		for i, n := range claim {
			ns := snaps[i]
			if liveSnap(ns, now) && getString(ns.Data(), fieldID) != r.ID {
				return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: n}
			}
			writes = append(writes, write{ref: refs[i], prev: ns, fields: nameFields(r.ID, next.Expires)})
		}
		for i := range release {
			ns := snaps[len(claim)+i]
			if ns.Exists() && getString(ns.Data(), fieldID) == r.ID {
				writes = append(writes, write{ref: refs[len(claim)+i], prev: ns})
			}
		}
		err = s.commit(ctx, append(writes, s.eventWrites(evs)...))
		if err == nil {
			return next, nil
		}
		if err != errLostRace {
			return statestore.Record{}, classify(err)
		}
		if err := statestore.Backoff(ctx, "firestore", attempt); err != nil {
			return statestore.Record{}, err
		}
	}
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	ctx, done := s.op(ctx)
	return done(s.delete(ctx, kind, id, version, evs))
}

func (s *Store) delete(ctx context.Context, kind, id string, version int64, evs []statestore.Event) error {
	ref := s.recordRef(kind, id)
	for attempt := 0; ; attempt++ {
		snap, ok, err := s.getLive(ctx, ref)
		if err != nil {
			return err
		}
		if !ok {
			return statestore.NotFound(kind, id)
		}
		cur := snapRecord(kind, snap)
		if version != 0 && cur.Version != version {
			return statestore.ConflictVersion(kind, id)
		}
		var refs []*firestore.DocumentRef
		for _, n := range statestore.UniqueNames(cur.Names) {
			refs = append(refs, s.nameRef(kind, n))
		}
		snaps, err := s.getAll(ctx, refs)
		if err != nil {
			return err
		}
		writes := []write{{ref: ref, prev: snap}}
		for i, ns := range snaps {
			if ns.Exists() && getString(ns.Data(), fieldID) == id {
				writes = append(writes, write{ref: refs[i], prev: ns})
			}
		}
		err = s.commit(ctx, append(writes, s.eventWrites(evs)...))
		if err == nil {
			return nil
		}
		if err != errLostRace {
			return classify(err)
		}
		if err := statestore.Backoff(ctx, "firestore", attempt); err != nil {
			return err
		}
	}
}

// List implements statestore.Store.
func (s *Store) List(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	ctx, done := s.op(ctx)
	v, err := s.list(ctx, kind, opts)
	return v, done(err)
}

func (s *Store) list(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = s.pageSize
	}
	coll := s.root.Doc(docID(kind)).Collection("records")
	q := coll.Query
	if opts.Group != "" {
		q = q.Where(fieldGroup, "==", opts.Group)
	}
	q = q.OrderBy(firestore.DocumentID, firestore.Asc)
	after := ""
	if opts.PageToken != "" {
		after = docID(opts.PageToken)
	}
	var page statestore.Page
	now := s.now()
	for {
		want := limit + 1 - len(page.Records)
		pq := q.Limit(want)
		if after != "" {
			pq = pq.StartAfter(after)
		}
		snaps, err := pq.Documents(ctx).GetAll()
		if err != nil {
			return statestore.Page{}, classify(err)
		}
		for _, snap := range snaps {
			after = snap.Ref.ID
			if !liveSnap(snap, now) {
				continue
			}
			if len(page.Records) == limit {
				page.NextPageToken = page.Records[limit-1].ID
				return page, nil
			}
			page.Records = append(page.Records, snapRecord(kind, snap))
		}
		if len(snaps) < want {
			return page, nil
		}
	}
}

// AppendEvent implements statestore.Store.
func (s *Store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	ctx, done := s.op(ctx)
	v, err := s.appendEvent(ctx, e)
	return v, done(err)
}

func (s *Store) appendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	e, m := s.eventDoc(e)
	if _, err := s.log.Doc(e.Cursor).Create(ctx, m); err != nil {
		return statestore.Event{}, classify(err)
	}
	return e, nil
}

// eventDoc gives e its cursor and returns the fields of its document.
func (s *Store) eventDoc(e statestore.Event) (statestore.Event, map[string]any) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Data = slices.Clone(e.Data)
	e.Cursor = statestore.NewCursor(e.Time, fmt.Sprintf("%012x-%s", s.seq.Add(1), s.instance))
	data := e.Data
	if data == nil {
		data = []byte{}
	}
	m := map[string]any{fieldTime: e.Time.UnixNano(), fieldData: data}
	expiryFields(m, e.Expires)
	return e, m
}

// eventWrites are the creates of the log documents of a write's events,
// committed in the write's transaction.
func (s *Store) eventWrites(evs []statestore.Event) []write {
	out := make([]write, 0, len(evs))
	for _, e := range evs {
		e, m := s.eventDoc(e)
		out = append(out, write{ref: s.log.Doc(e.Cursor), fields: m})
	}
	return out
}

// timeKey is the cursor prefix of time t: every cursor of an event at t
// sorts after it, every cursor of an earlier event before it.
func timeKey(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// Events implements statestore.Store.
func (s *Store) Events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	ctx, done := s.op(ctx)
	v, err := s.events(ctx, q)
	return v, done(err)
}

func (s *Store) events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	after := q.After
	if !q.Since.IsZero() && timeKey(q.Since) > after {
		after = timeKey(q.Since)
	}
	query := s.log.OrderBy(firestore.DocumentID, firestore.Asc)
	if after != "" {
		query = query.StartAfter(after)
	}
	if !q.Until.IsZero() {
		query = query.EndBefore(timeKey(q.Until.Add(time.Nanosecond)))
	}
	it := query.Documents(ctx)
	defer it.Stop()
	var out []statestore.Event
	now := s.now()
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, classify(err)
		}
		m := snap.Data()
		exp := expiry(m)
		if !statestore.Live(exp, now) {
			continue
		}
		out = append(out, statestore.Event{
			Cursor: snap.Ref.ID, Time: time.Unix(0, getInt(m, fieldTime)), Data: getBytes(m, fieldData), Expires: exp,
		})
		if q.Limit > 0 && len(out) == q.Limit {
			return out, nil
		}
	}
}

// classify maps a client error to the errdefs classes the Store promises.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errdefs.HTTPStatus(err) != http.StatusInternalServerError { // already classified
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("firestore: %w", err)
	}
	wrapped := fmt.Errorf("firestore: %w", err)
	switch st.Code() {
	case codes.Unavailable:
		return errdefs.Unavailable(fmt.Errorf("firestore: %s: %w", statestore.Unreachable, err))
	case codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return errdefs.Unavailable(wrapped)
	case codes.InvalidArgument:
		msg := strings.ToLower(st.Message())
		if strings.Contains(msg, "size") || strings.Contains(msg, "longer than") || strings.Contains(msg, "too large") || strings.Contains(msg, "too big") {
			return errdefs.RequestTooLarge(wrapped)
		}
		return errdefs.InvalidParameter(wrapped)
	case codes.PermissionDenied:
		return errdefs.Forbidden(wrapped)
	case codes.Unauthenticated:
		return errdefs.Unauthorized(wrapped)
	case codes.AlreadyExists, codes.FailedPrecondition:
		return errdefs.Conflict(wrapped)
	case codes.NotFound:
		return errdefs.NotFound(wrapped)
	}
	return wrapped
}
