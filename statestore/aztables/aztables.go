// Package aztables is the statestore.Store on Azure Table Storage, through
// github.com/Azure/azure-sdk-for-go/sdk/data/aztables. It runs unchanged
// against Azurite.
//
// # Key design
//
// Table transactions (entity group transactions) cover one partition only,
// so each kind is one partition holding its records, its name reservations
// and its group index, and every write of a record is one transaction:
//
//	row          PartitionKey      RowKey                              properties
//	record       "k" + hex(kind)   "r:" + hex(id)                      ID, Names, Group, Version, Expires, DataChunks, D0..Dn
//	group index  "k" + hex(kind)   "g:" + hex(group) + ":" + hex(id)   a copy of the record row
//	name         "k" + hex(kind)   "n:" + hex(name)                    ID (the holder), Expires
//	event        "e"               cursor                              Time, Expires, DataChunks, D0..Dn
//
// Keys are hex-encoded: Azure forbids '/', '\', '#', '?' and control
// characters in keys, and hex keeps byte order, so the service's key order
// is the order of ids. Listing a kind is a range query on RowKey inside its
// partition; listing a group is a range query on the group's index rows,
// which are copies of the records written in the same transaction, so
// group listings are strongly consistent.
//
// Writes are optimistic: the store reads the rows it will touch, decides,
// and submits one transaction in which every row read is written with
// If-Match on its ETag and every new row is inserted (failing if it
// exists). If anything changed in between the transaction fails as a
// whole and the store reads again, so of several racing creators of a
// name exactly one wins. (Group index rows are written unconditionally:
// they only ever change together with their record row, which is checked.)
//
// Expiring rows carry Expires (Unix nanoseconds) and are filtered out on
// every read. Table Storage has no TTL: call Purge now and then to delete
// expired rows.
//
// # Limits
//
//   - Data is at most MaxData (640 KiB), stored in 64 KiB binary properties
//     (Azure's property limit). Azure's entity limit is 1 MiB; Azurite
//     applies it to the JSON body, where binary data grows by a third
//     (base64), so the store keeps well under it for both.
//   - A transaction holds at most 100 rows: a record may claim and release
//     at most 97 names in one write.
//   - Keys are at most 1 KiB: ids, names and kinds of at most 510 bytes
//     (groups and ids together at most 508 for grouped records).
//   - A partition serves about 2,000 operations a second: that is the limit
//     for one kind, and for the event log (one partition).
//   - Expiry is decided by the client's clock; keep clocks in sync.
package aztables

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// DefaultTable is the table name used when Options.Table is empty.
const DefaultTable = "sockerless"

// DefaultPageSize is the page size of List when ListOptions.Limit is 0.
const DefaultPageSize = 100

// MaxData is the largest Record.Data (and Event.Data) the store accepts:
// ten 64 KiB properties, whose base64 encoding leaves room for the other
// properties within a 1 MB entity.
const MaxData = 640 << 10

// chunkSize is the size of one binary property: Azure's 64 KiB limit.
const chunkSize = 64 << 10

// maxActions is Azure's limit on the operations of one transaction.
const maxActions = 100

// eventPartition is the PartitionKey of the event log.
const eventPartition = "e"

// Property names.
const (
	propPK      = "PartitionKey"
	propRK      = "RowKey"
	propID      = "ID"
	propNames   = "Names"
	propGroup   = "Group"
	propVersion = "Version"
	propExpires = "Expires"
	propTime    = "Time"
	propChunks  = "DataChunks"
	propETag    = "odata.etag"
)

// Options configures a Store.
type Options struct {
	// Client is the service client to use. When nil, New builds one from
	// ConnectionString.
	Client *aztables.ServiceClient
	// ConnectionString is a storage account (or Azurite) connection
	// string, used only when Client is nil, and then required.
	ConnectionString string
	// ClientOptions are passed when building the client from
	// ConnectionString.
	ClientOptions *aztables.ClientOptions
	// Table is the table name. Default DefaultTable.
	Table string
	// NoCreateTable stops the store from creating the table on first use;
	// set it when the table is provisioned elsewhere.
	NoCreateTable bool
	// PageSize is List's page size when ListOptions.Limit is 0. Default
	// DefaultPageSize.
	PageSize int
	// Now is the clock used for expiry and event times. Default time.Now.
	Now func() time.Time
}

// Store is a statestore.Store on one Azure table. Safe for concurrent use.
type Store struct {
	svc      *aztables.ServiceClient
	client   *aztables.Client
	table    string
	pageSize int
	now      func() time.Time
	create   bool
	instance string // random cursor tiebreak, unique to this Store
	seq      atomic.Uint64

	initMu   sync.Mutex
	initDone atomic.Bool
}

var _ statestore.Store = (*Store)(nil)

// New returns a Store for opts. It does no I/O: the table is created (unless
// NoCreateTable) on first use, or by EnsureTable.
func New(opts Options) (*Store, error) {
	svc := opts.Client
	if svc == nil {
		if opts.ConnectionString == "" {
			return nil, errdefs.InvalidParameterf("aztables: Options needs a Client or a ConnectionString")
		}
		var err error
		svc, err = aztables.NewServiceClientFromConnectionString(opts.ConnectionString, opts.ClientOptions)
		if err != nil {
			return nil, errdefs.InvalidParameter(fmt.Errorf("aztables: %w", err))
		}
	}
	s := &Store{svc: svc, table: opts.Table, pageSize: opts.PageSize, now: opts.Now, create: !opts.NoCreateTable}
	if s.table == "" {
		s.table = DefaultTable
	}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.client = svc.NewClient(s.table)
	var b [4]byte
	_, _ = crand.Read(b[:]) // never fails (Go 1.24+)
	s.instance = hex.EncodeToString(b[:])
	return s, nil
}

// Close implements statestore.Store. The SDK client holds nothing to release.
func (s *Store) Close() error { return nil }

// EnsureTable creates the table if it does not exist.
func (s *Store) EnsureTable(ctx context.Context) error {
	_, err := s.svc.CreateTable(ctx, s.table, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == string(aztables.TableAlreadyExists) {
		return nil
	}
	return classify(err)
}

func (s *Store) ready(ctx context.Context) error {
	if !s.create || s.initDone.Load() {
		return nil
	}
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.initDone.Load() {
		return nil
	}
	if err := s.EnsureTable(ctx); err != nil {
		return err
	}
	s.initDone.Store(true)
	return nil
}

// Keys.

func kindPartition(kind string) string { return "k" + hex.EncodeToString([]byte(kind)) }
func recordRow(id string) string       { return "r:" + hex.EncodeToString([]byte(id)) }
func nameRow(name string) string       { return "n:" + hex.EncodeToString([]byte(name)) }
func groupPrefix(group string) string  { return "g:" + hex.EncodeToString([]byte(group)) + ":" }
func groupRow(group, id string) string { return groupPrefix(group) + hex.EncodeToString([]byte(id)) }

// prefixEnd returns the smallest key greater than every key starting with
// prefix, which ends in ':' (so bumping it to ';' works).
func prefixEnd(prefix string) string { return prefix[:len(prefix)-1] + ";" }

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// row is one entity: its properties as decoded JSON, and its ETag.
type row map[string]any

func (r row) str(p string) string { v, _ := r[p].(string); return v }

func (r row) int(p string) int64 {
	switch v := r[p].(type) {
	case string: // Edm.Int64 travels as a string
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

func (r row) etag() azcore.ETag { return azcore.ETag(r.str(propETag)) }

func (r row) expires() time.Time {
	if n := r.int(propExpires); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (r row) live(now time.Time) bool { return r != nil && statestore.Live(r.expires(), now) }

func (r row) data() []byte {
	n := int(r.int(propChunks))
	var out []byte
	for i := range n {
		b, _ := base64.StdEncoding.DecodeString(r.str("D" + strconv.Itoa(i)))
		out = append(out, b...)
	}
	return out
}

func (r row) record(kind string) statestore.Record {
	rec := statestore.Record{
		Kind:    kind,
		ID:      r.str(propID),
		Group:   r.str(propGroup),
		Data:    r.data(),
		Version: r.int(propVersion),
		Expires: r.expires(),
	}
	if names := r.str(propNames); names != "" {
		_ = json.Unmarshal([]byte(names), &rec.Names)
	}
	return rec
}

func decodeRow(b []byte) (row, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var r row
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("aztables: decoding entity: %w", err)
	}
	return r, nil
}

// entity builds an entity's JSON body.
type entity map[string]any

func newEntity(pk, rk string) entity { return entity{propPK: pk, propRK: rk} }

func (e entity) setInt(p string, v int64) {
	e[p] = strconv.FormatInt(v, 10)
	e[p+"@odata.type"] = "Edm.Int64"
}

func (e entity) setExpires(exp time.Time) {
	if exp.IsZero() {
		e.setInt(propExpires, 0)
	} else {
		e.setInt(propExpires, exp.UnixNano())
	}
}

func (e entity) setData(data []byte) {
	n := 0
	for ; len(data) > 0; n++ {
		c := data[:min(len(data), chunkSize)]
		data = data[len(c):]
		p := "D" + strconv.Itoa(n)
		e[p] = base64.StdEncoding.EncodeToString(c)
		e[p+"@odata.type"] = "Edm.Binary"
	}
	e[propChunks] = n
}

func (e entity) json() []byte {
	b, _ := json.Marshal(map[string]any(e)) // strings, ints and bools only
	return b
}

func recordEntity(r statestore.Record, rk string) entity {
	e := newEntity(kindPartition(r.Kind), rk)
	e[propID] = r.ID
	e[propGroup] = r.Group
	names, _ := json.Marshal(r.Names)
	e[propNames] = string(names)
	e.setInt(propVersion, r.Version)
	e.setExpires(r.Expires)
	e.setData(r.Data)
	return e
}

func nameEntity(kind, name, id string, exp time.Time) entity {
	e := newEntity(kindPartition(kind), nameRow(name))
	e[propID] = id
	e.setExpires(exp)
	return e
}

// Actions of a transaction.

func add(e entity) aztables.TransactionAction {
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: e.json()}
}

// replace overwrites the row prev with e if prev is unchanged, or adds e
// if prev is nil (the row did not exist).
func replace(e entity, prev row) aztables.TransactionAction {
	if prev == nil {
		return add(e)
	}
	tag := prev.etag()
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: e.json(), IfMatch: &tag}
}

// upsert writes e whatever the row holds.
func upsert(e entity) aztables.TransactionAction {
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: e.json()}
}

// remove deletes row pk/rk; with a nil prev, whatever it holds (it must
// exist).
func remove(pk, rk string, prev row) aztables.TransactionAction {
	tag := azcore.ETagAny
	if prev != nil {
		tag = prev.etag()
	}
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: newEntity(pk, rk).json(), IfMatch: &tag}
}

// errLostRace reports a write whose preconditions failed: a row changed
// since it was read.
var errLostRace = errors.New("aztables: concurrent change")

// submit runs actions as one transaction (or one plain request when there
// is a single action). It returns errLostRace if a row was added, changed or
// deleted since it was read.
func (s *Store) submit(ctx context.Context, actions []aztables.TransactionAction) error {
	if len(actions) > maxActions {
		return errdefs.InvalidParameterf("aztables: a record can claim and release at most %d names in one write", maxActions-3)
	}
	var err error
	if a := actions[0]; len(actions) == 1 && a.ActionType != aztables.TransactionTypeInsertReplace {
		switch a.ActionType {
		case aztables.TransactionTypeAdd:
			_, err = s.client.AddEntity(ctx, a.Entity, nil)
		case aztables.TransactionTypeUpdateReplace:
			_, err = s.client.UpdateEntity(ctx, a.Entity, &aztables.UpdateEntityOptions{IfMatch: a.IfMatch, UpdateMode: aztables.UpdateModeReplace})
		case aztables.TransactionTypeDelete:
			var e row
			if e, err = decodeRow(a.Entity); err == nil {
				_, err = s.client.DeleteEntity(ctx, e.str(propPK), e.str(propRK), &aztables.DeleteEntityOptions{IfMatch: a.IfMatch})
			}
		}
		var re *azcore.ResponseError
		if errors.As(err, &re) && raceStatus(re.StatusCode, re.ErrorCode) {
			return errLostRace
		}
		return err
	}
	_, err = s.client.SubmitTransaction(ctx, actions, nil)
	if code, errCode, ok := responseStatus(err); ok && raceStatus(code, errCode) {
		return errLostRace
	}
	return err
}

// raceStatus reports whether an operation's status means that a row was not
// as the writer read it: it exists (409), it changed (412) or it is gone
// (404), rather than that the table is missing or being deleted.
func raceStatus(code int, errCode string) bool {
	if errCode == string(aztables.TableNotFound) || errCode == string(aztables.TableBeingDeleted) {
		return false
	}
	return code == http.StatusConflict || code == http.StatusPreconditionFailed || code == http.StatusNotFound
}

// innerStatus matches the status line of an operation's response inside a
// transaction's multipart response body, innerCode its error code.
var (
	innerStatus = regexp.MustCompile(`HTTP/1\.1 (\d{3})`)
	innerCode   = regexp.MustCompile(`"code"\s*:\s*"(\w+)"`)
)

// responseStatus returns the status and error code of a failed request,
// or of the failed operation of a failed transaction: a failed transaction
// answers 202 Accepted with the failing operation's response in its
// multipart body.
func responseStatus(err error) (status int, code string, ok bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return 0, "", false
	}
	if re.StatusCode != http.StatusAccepted || re.RawResponse == nil {
		return re.StatusCode, re.ErrorCode, true
	}
	status, code = re.StatusCode, re.ErrorCode
	body, _ := runtime.Payload(re.RawResponse)
	for _, m := range innerStatus.FindAllSubmatch(body, -1) {
		if n, _ := strconv.Atoi(string(m[1])); n >= 300 {
			status = n
			break
		}
	}
	if m := innerCode.FindSubmatch(body); m != nil {
		code = string(m[1])
	}
	return status, code, true
}

// getRow reads one row; a missing row is nil.
func (s *Store) getRow(ctx context.Context, pk, rk string) (row, error) {
	resp, err := s.client.GetEntity(ctx, pk, rk, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode != string(aztables.TableNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	r, err := decodeRow(resp.Value)
	if err != nil {
		return nil, err
	}
	r[propETag] = string(resp.ETag)
	return r, nil
}

func checkData(data []byte) error {
	if len(data) > MaxData {
		return errdefs.RequestTooLarge(fmt.Errorf("aztables: data of %d bytes exceeds the %d byte limit", len(data), MaxData))
	}
	return nil
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	r, err := s.getRow(ctx, kindPartition(kind), recordRow(id))
	if err != nil {
		return statestore.Record{}, err
	}
	if !r.live(s.now()) {
		return statestore.Record{}, statestore.NotFound(kind, id)
	}
	return r.record(kind), nil
}

// GetByName implements statestore.Store.
func (s *Store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	n, err := s.getRow(ctx, kindPartition(kind), nameRow(name))
	if err != nil {
		return statestore.Record{}, err
	}
	if !n.live(s.now()) {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	r, err := s.Get(ctx, kind, n.str(propID))
	if errdefs.IsNotFound(err) || (err == nil && !slices.Contains(r.Names, name)) {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	return r, err
}

// nameRows reads the name rows of kind; missing ones are nil.
func (s *Store) nameRows(ctx context.Context, kind string, names []string) ([]row, error) {
	rows := make([]row, len(names))
	for i, n := range names {
		r, err := s.getRow(ctx, kindPartition(kind), nameRow(n))
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	return rows, nil
}

// Create implements statestore.Store.
func (s *Store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := checkData(r.Data); err != nil {
		return statestore.Record{}, err
	}
	if err := checkEvents(evs); err != nil {
		return statestore.Record{}, err
	}
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	r = statestore.Clone(r)
	r.Version = 1
	pk := kindPartition(r.Kind)
	ns := statestore.UniqueNames(r.Names)
	for attempt := 0; ; attempt++ {
		old, err := s.getRow(ctx, pk, recordRow(r.ID))
		if err != nil {
			return statestore.Record{}, err
		}
		now := s.now()
		if old.live(now) {
			return statestore.Record{}, statestore.ConflictExists(r.Kind, r.ID)
		}
		names, err := s.nameRows(ctx, r.Kind, ns)
		if err != nil {
			return statestore.Record{}, err
		}
		actions := []aztables.TransactionAction{replace(recordEntity(r, recordRow(r.ID)), old)}
		// An expired record being replaced may leave a group index row.
		if g := old.str(propGroup); g != "" && g != r.Group {
			gr, err := s.getRow(ctx, pk, groupRow(g, r.ID))
			if err != nil {
				return statestore.Record{}, err
			}
			if gr != nil {
				actions = append(actions, remove(pk, groupRow(g, r.ID), gr))
			}
		}
		if r.Group != "" {
			actions = append(actions, upsert(recordEntity(r, groupRow(r.Group, r.ID))))
		}
		for i, n := range ns {
			if names[i].live(now) && names[i].str(propID) != r.ID {
				return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: n}
			}
			actions = append(actions, replace(nameEntity(r.Kind, n, r.ID, r.Expires), names[i]))
		}
		err = s.submit(ctx, actions)
		if err == nil {
			return statestore.Clone(r), s.appendAfter(ctx, evs)
		}
		if err != errLostRace {
			return statestore.Record{}, classify(err)
		}
		if err := statestore.Backoff(ctx, "aztables", attempt); err != nil {
			return statestore.Record{}, err
		}
	}
}

// Update implements statestore.Store.
func (s *Store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := checkData(r.Data); err != nil {
		return statestore.Record{}, err
	}
	if err := checkEvents(evs); err != nil {
		return statestore.Record{}, err
	}
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	next := statestore.Clone(r)
	next.Version = r.Version + 1
	pk := kindPartition(r.Kind)
	for attempt := 0; ; attempt++ {
		old, err := s.getRow(ctx, pk, recordRow(r.ID))
		if err != nil {
			return statestore.Record{}, err
		}
		if !old.live(s.now()) {
			return statestore.Record{}, statestore.NotFound(r.Kind, r.ID)
		}
		cur := old.record(r.Kind)
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
		rows, err := s.nameRows(ctx, r.Kind, append(slices.Clone(claim), release...))
		if err != nil {
			return statestore.Record{}, err
		}
		now := s.now()
		actions := []aztables.TransactionAction{replace(recordEntity(next, recordRow(r.ID)), old)}
		if cur.Group != "" && cur.Group != next.Group {
			actions = append(actions, remove(pk, groupRow(cur.Group, r.ID), nil))
		}
		if next.Group != "" {
			actions = append(actions, upsert(recordEntity(next, groupRow(next.Group, r.ID))))
		}
		for i, n := range claim {
			if rows[i].live(now) && rows[i].str(propID) != r.ID {
				return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: n}
			}
			actions = append(actions, replace(nameEntity(r.Kind, n, r.ID, next.Expires), rows[i]))
		}
		for i, n := range release {
			if nr := rows[len(claim)+i]; nr != nil && nr.str(propID) == r.ID {
				actions = append(actions, remove(pk, nameRow(n), nr))
			}
		}
		err = s.submit(ctx, actions)
		if err == nil {
			return next, s.appendAfter(ctx, evs)
		}
		if err != errLostRace {
			return statestore.Record{}, classify(err)
		}
		if err := statestore.Backoff(ctx, "aztables", attempt); err != nil {
			return statestore.Record{}, err
		}
	}
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	if err := checkEvents(evs); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	pk := kindPartition(kind)
	for attempt := 0; ; attempt++ {
		old, err := s.getRow(ctx, pk, recordRow(id))
		if err != nil {
			return err
		}
		if !old.live(s.now()) {
			return statestore.NotFound(kind, id)
		}
		cur := old.record(kind)
		if version != 0 && cur.Version != version {
			return statestore.ConflictVersion(kind, id)
		}
		ns := statestore.UniqueNames(cur.Names)
		rows, err := s.nameRows(ctx, kind, ns)
		if err != nil {
			return err
		}
		actions := []aztables.TransactionAction{remove(pk, recordRow(id), old)}
		if cur.Group != "" {
			actions = append(actions, remove(pk, groupRow(cur.Group, id), nil))
		}
		for i, n := range ns {
			if rows[i] != nil && rows[i].str(propID) == id {
				actions = append(actions, remove(pk, nameRow(n), rows[i]))
			}
		}
		err = s.submit(ctx, actions)
		if err == nil {
			return s.appendAfter(ctx, evs)
		}
		if err != errLostRace {
			return classify(err)
		}
		if err := statestore.Backoff(ctx, "aztables", attempt); err != nil {
			return err
		}
	}
}

// query runs filter and calls f with each row, in key order, until f
// returns false.
func (s *Store) query(ctx context.Context, filter string, top int, f func(row) bool) error {
	opts := &aztables.ListEntitiesOptions{Filter: &filter}
	if top > 0 && top <= 1000 {
		t := int32(top)
		opts.Top = &t
	}
	pager := s.client.NewListEntitiesPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return classify(err)
		}
		for _, b := range page.Entities {
			r, err := decodeRow(b)
			if err != nil {
				return err
			}
			if !f(r) {
				return nil
			}
		}
	}
	return nil
}

// List implements statestore.Store.
func (s *Store) List(ctx context.Context, kind string, opts statestore.ListOptions) (statestore.Page, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Page{}, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = s.pageSize
	}
	prefix := "r:"
	if opts.Group != "" {
		prefix = groupPrefix(opts.Group)
	}
	lo := prefix
	if opts.PageToken != "" {
		lo = prefix + hex.EncodeToString([]byte(opts.PageToken))
	}
	filter := fmt.Sprintf("PartitionKey eq %s and RowKey gt %s and RowKey lt %s",
		odataString(kindPartition(kind)), odataString(lo), odataString(prefixEnd(prefix)))
	var page statestore.Page
	now := s.now()
	err := s.query(ctx, filter, limit+1, func(r row) bool {
		if !r.live(now) {
			return true
		}
		if len(page.Records) == limit {
			page.NextPageToken = page.Records[limit-1].ID
			return false
		}
		page.Records = append(page.Records, r.record(kind))
		return true
	})
	if err != nil {
		return statestore.Page{}, err
	}
	return page, nil
}

// AppendEvent implements statestore.Store.
func (s *Store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	if err := checkData(e.Data); err != nil {
		return statestore.Event{}, err
	}
	if err := s.ready(ctx); err != nil {
		return statestore.Event{}, err
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e, ent := s.eventEntity(e)
	if _, err := s.client.AddEntity(ctx, ent.json(), nil); err != nil {
		return statestore.Event{}, classify(err)
	}
	return e, nil
}

// eventEntity gives e its cursor and returns its row.
func (s *Store) eventEntity(e statestore.Event) (statestore.Event, entity) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Data = slices.Clone(e.Data)
	e.Cursor = statestore.NewCursor(e.Time, fmt.Sprintf("%012x-%s", s.seq.Add(1), s.instance))
	ent := newEntity(eventPartition, e.Cursor)
	ent.setInt(propTime, e.Time.UnixNano())
	ent.setExpires(e.Expires)
	ent.setData(e.Data)
	return e, ent
}

// checkEvents checks the events of a write before the write is made.
func checkEvents(evs []statestore.Event) error {
	for _, e := range evs {
		if err := checkData(e.Data); err != nil {
			return err
		}
	}
	return nil
}

// appendAfter appends the events of a write that has been committed: the
// log is a partition of its own, so they are one entity group transaction
// of their own (per 100), retried while the service is busy or
// unreachable. If they cannot be appended the error wraps
// statestore.ErrEventsLost: the change itself stays made.
func (s *Store) appendAfter(ctx context.Context, evs []statestore.Event) error {
	for len(evs) > 0 {
		n := min(len(evs), maxActions)
		actions := make([]aztables.TransactionAction, 0, n)
		for _, e := range evs[:n] {
			_, ent := s.eventEntity(e)
			// Insert-or-replace: a retried batch that did land the first
			// time writes the same rows again.
			actions = append(actions, upsert(ent))
		}
		for attempt := 0; ; attempt++ {
			_, err := s.client.SubmitTransaction(ctx, actions, nil)
			if err == nil {
				break
			}
			err = classify(err)
			if !errdefs.IsUnavailable(err) || attempt >= 4 {
				return errdefs.Unavailable(fmt.Errorf("aztables: %w: %w", statestore.ErrEventsLost, err))
			}
			if berr := statestore.Backoff(ctx, "aztables", attempt+3); berr != nil {
				return errdefs.Unavailable(fmt.Errorf("aztables: %w: %w", statestore.ErrEventsLost, berr))
			}
		}
		evs = evs[n:]
	}
	return nil
}

// timeKey is the cursor prefix of time t: every cursor of an event at t
// sorts after it, every cursor of an earlier event before it.
func timeKey(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// Events implements statestore.Store.
func (s *Store) Events(ctx context.Context, q statestore.EventQuery) ([]statestore.Event, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	after := q.After
	if !q.Since.IsZero() && timeKey(q.Since) > after {
		after = timeKey(q.Since)
	}
	filter := "PartitionKey eq " + odataString(eventPartition)
	if after != "" {
		filter += " and RowKey gt " + odataString(after)
	}
	if !q.Until.IsZero() {
		filter += " and RowKey lt " + odataString(timeKey(q.Until.Add(time.Nanosecond)))
	}
	var out []statestore.Event
	now := s.now()
	err := s.query(ctx, filter, q.Limit, func(r row) bool {
		if !r.live(now) {
			return true
		}
		out = append(out, statestore.Event{
			Cursor: r.str(propRK), Time: time.Unix(0, r.int(propTime)), Data: r.data(), Expires: r.expires(),
		})
		return q.Limit <= 0 || len(out) < q.Limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Purge deletes every expired row (records, their names and group index
// rows, and events) and returns how many it deleted. Table Storage has no
// TTL, so run it periodically. It queries the whole table (filtered on
// Expires); a row renewed meanwhile is kept (the delete is conditional on
// its ETag).
func (s *Store) Purge(ctx context.Context) (int, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	filter := fmt.Sprintf("Expires gt 0L and Expires le %dL", now.UnixNano())
	var expired []row
	if err := s.query(ctx, filter, 0, func(r row) bool {
		if !r.live(now) { // the filter's Int64 comparison is not trusted alone
			expired = append(expired, r)
		}
		return true
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range expired {
		tag := r.etag()
		_, err := s.client.DeleteEntity(ctx, r.str(propPK), r.str(propRK), &aztables.DeleteEntityOptions{IfMatch: &tag})
		var re *azcore.ResponseError
		switch {
		case err == nil:
			n++
		case errors.As(err, &re) && raceStatus(re.StatusCode, re.ErrorCode):
		default:
			return n, classify(err)
		}
	}
	return n, nil
}

// classify maps an SDK error to the errdefs classes the Store promises.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errdefs.HTTPStatus(err) != http.StatusInternalServerError { // already classified
		return err
	}
	wrapped := fmt.Errorf("aztables: %w", err)
	if code, errCode, ok := responseStatus(err); ok {
		switch {
		case errCode == string(aztables.TableNotFound) || errCode == string(aztables.TableBeingDeleted):
			return errdefs.Unavailable(wrapped) // the store is not set up (NoCreateTable)
		case code == http.StatusRequestEntityTooLarge || errCode == string(aztables.EntityTooLarge) ||
			errCode == string(aztables.PropertyValueTooLarge) || errCode == "RequestBodyTooLarge":
			return errdefs.RequestTooLarge(wrapped)
		case code == http.StatusNotFound:
			return errdefs.NotFound(wrapped)
		case code == http.StatusConflict || code == http.StatusPreconditionFailed:
			return errdefs.Conflict(wrapped)
		case code == http.StatusBadRequest:
			return errdefs.InvalidParameter(wrapped)
		case code == http.StatusUnauthorized:
			return errdefs.Unauthorized(wrapped)
		case code == http.StatusForbidden:
			return errdefs.Forbidden(wrapped)
		case code == http.StatusTooManyRequests || code >= 500:
			return errdefs.Unavailable(wrapped)
		}
		return wrapped
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return errdefs.Unavailable(fmt.Errorf("aztables: %s: %w", statestore.Unreachable, err))
	}
	return wrapped
}
