// Package dynamodb is the statestore.Store on Amazon DynamoDB (AWS SDK for
// Go v2). It runs unchanged against DynamoDB Local.
//
// # Key design
//
// Everything lives in one table with a string partition key "pk" and a
// string sort key "sk":
//
//	item            pk                     sk       other attributes
//	record          "r#" + kind            id       names, grp, gpk, data, ver, exp, ttl
//	name            "n#" + kind            name     id (the holder), exp, ttl
//	event           "e"                    cursor   time, data, exp, ttl
//
// A kind's records form one item collection, so List is a Query on
// pk = "r#"+kind ordered by id (never a Scan). Records with a Group also
// carry gpk = groupKey(kind, group), the partition key of the sparse global
// secondary index "group" (sort key sk, all attributes projected), so a
// group listing is a Query on that index.
//
// Names are separate items, one per (kind, name). Create, Update and Delete
// write the record and its name items in one TransactWriteItems call whose
// condition expressions make the record's version and every name claim
// atomic: a name item may only be written if it does not exist, is held by
// the same id, or belongs to an expired record. Exactly one of several
// racing creators of a name wins.
//
// Expiring records and events carry exp (Unix nanoseconds, compared on
// every read, because DynamoDB deletes expired items lazily, up to days
// later) and ttl (Unix seconds, the table's TTL attribute, which EnsureTable
// enables so that DynamoDB eventually deletes them).
//
// # Limits
//
//   - An item, so a record with its names and group, is at most 400 KB
//     (DynamoDB's item size limit); a larger record fails with
//     errdefs.ErrRequestTooLarge. Data of 300 KiB fits comfortably.
//   - A transaction holds at most 100 items: a record may claim and release
//     at most 99 names in one write.
//   - ids and names are sort keys: at most 1024 bytes; kinds at most 2046.
//   - List with a Group reads the global secondary index, which is
//     eventually consistent: a record created a moment ago may be missing.
//     Every other read is strongly consistent.
//   - The event log is one partition ("e"): DynamoDB serves about 1000
//     writes a second to it.
//   - Expiry is decided by the client's clock; keep clocks in sync.
package dynamodb

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// DefaultTable is the table name used when Options.Table is empty.
const DefaultTable = "sockerless"

// GroupIndex is the name of the global secondary index used to list a group.
const GroupIndex = "group"

// DefaultPageSize is the page size of List when ListOptions.Limit is 0.
const DefaultPageSize = 100

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

// Attribute names.
const (
	attrPK    = "pk"
	attrSK    = "sk"
	attrGPK   = "gpk"
	attrNames = "names"
	attrGroup = "grp"
	attrData  = "data"
	attrVer   = "ver"
	attrExp   = "exp"
	attrTTL   = "ttl"
	attrID    = "id"
	attrTime  = "time"
)

// eventPK is the partition key of the event log.
const eventPK = "e"

// Options configures a Store.
type Options struct {
	// Table is the table name. Default DefaultTable.
	Table string
	// Client is the DynamoDB client to use, typically built with
	// config.LoadDefaultConfig. When nil, New builds one for Endpoint.
	Client *dynamodb.Client
	// Endpoint is the base URL of a DynamoDB-compatible service, such as
	// DynamoDB Local ("http://127.0.0.1:8000"). Used only when Client is
	// nil, and then required.
	Endpoint string
	// Region is the signing region when Client is nil. Default "us-east-1".
	Region string
	// Credentials sign requests when Client is nil. Default static dummy
	// credentials, which DynamoDB Local accepts.
	Credentials aws.CredentialsProvider
	// NoCreateTable stops the store from creating the table (and enabling
	// TTL) on first use; set it when the table is provisioned elsewhere.
	NoCreateTable bool
	// PageSize is List's page size when ListOptions.Limit is 0. Default
	// DefaultPageSize.
	PageSize int
	// Now is the clock used for expiry and event times. Default time.Now.
	Now func() time.Time
}

// Store is a statestore.Store on a DynamoDB table. Safe for concurrent use.
type Store struct {
	client   *dynamodb.Client
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

// New returns a Store for opts. It does no I/O: the table is checked (and
// created unless NoCreateTable) on first use, or by EnsureTable.
func New(opts Options) (*Store, error) {
	client := opts.Client
	if client == nil {
		if opts.Endpoint == "" {
			return nil, errdefs.InvalidParameterf("dynamodb: Options needs a Client or an Endpoint")
		}
		region := opts.Region
		if region == "" {
			region = "us-east-1"
		}
		creds := opts.Credentials
		if creds == nil {
			creds = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
		client = dynamodb.New(dynamodb.Options{
			Region:       region,
			Credentials:  creds,
			BaseEndpoint: aws.String(opts.Endpoint),
		})
	}
	s := &Store{
		client:   client,
		table:    opts.Table,
		pageSize: opts.PageSize,
		now:      opts.Now,
		create:   !opts.NoCreateTable,
	}
	if s.table == "" {
		s.table = DefaultTable
	}
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

// Close implements statestore.Store. The SDK client holds nothing to release.
func (s *Store) Close() error { return nil }

// EnsureTable creates the table and its group index if they do not exist,
// waits until the table is active and enables TTL on the ttl attribute
// (best effort: DynamoDB Local, for one, ignores it).
func (s *Store) EnsureTable(ctx context.Context) error {
	_, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &nf):
		return classify(err)
	}
	_, err = s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &s.table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrGPK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(GroupIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrGPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another process creates it
		return classify(err)
	}
	w := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, 5*time.Minute); err != nil {
		return classify(err)
	}
	_, _ = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &s.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrTTL), Enabled: aws.Bool(true)},
	})
	return nil
}

// ready runs EnsureTable once, before the first operation.
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

func recordPK(kind string) string { return "r#" + kind }
func namePK(kind string) string   { return "n#" + kind }

// groupKey is the group index partition key of kind's group: the kind is
// length-prefixed so that no two (kind, group) pairs share a key.
func groupKey(kind, group string) string {
	return strconv.Itoa(len(kind)) + ":" + kind + "#" + group
}

// Attribute value helpers.

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: attrS(pk), attrSK: attrS(sk)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getB(item map[string]types.AttributeValue, name string) []byte {
	if v, ok := item[name].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

// setExpiry adds exp and ttl for an expiry time.
func setExpiry(item map[string]types.AttributeValue, exp time.Time) {
	if exp.IsZero() {
		return
	}
	item[attrExp] = attrN(exp.UnixNano())
	secs := exp.Unix()
	if exp.Nanosecond() > 0 {
		secs++ // never before the record expires
	}
	item[attrTTL] = attrN(secs)
}

func expiry(item map[string]types.AttributeValue) time.Time {
	if n := getN(item, attrExp); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func recordItem(r statestore.Record) map[string]types.AttributeValue {
	item := key(recordPK(r.Kind), r.ID)
	item[attrVer] = attrN(r.Version)
	if len(r.Names) > 0 {
		names := make([]types.AttributeValue, len(r.Names))
		for i, n := range r.Names {
			names[i] = attrS(n)
		}
		item[attrNames] = &types.AttributeValueMemberL{Value: names}
	}
	if r.Group != "" {
		item[attrGroup] = attrS(r.Group)
		item[attrGPK] = attrS(groupKey(r.Kind, r.Group))
	}
	if len(r.Data) > 0 {
		item[attrData] = &types.AttributeValueMemberB{Value: r.Data}
	}
	setExpiry(item, r.Expires)
	return item
}

func itemRecord(kind string, item map[string]types.AttributeValue) statestore.Record {
	r := statestore.Record{
		Kind:    kind,
		ID:      getS(item, attrSK),
		Group:   getS(item, attrGroup),
		Data:    getB(item, attrData),
		Version: getN(item, attrVer),
		Expires: expiry(item),
	}
	if l, ok := item[attrNames].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				r.Names = append(r.Names, s.Value)
			}
		}
	}
	return r
}

func nameItem(kind, name, id string, exp time.Time) map[string]types.AttributeValue {
	item := key(namePK(kind), name)
	item[attrID] = attrS(id)
	setExpiry(item, exp)
	return item
}

// live reports whether an item (record, name or event) has not expired.
func live(item map[string]types.AttributeValue, now time.Time) bool {
	return statestore.Live(expiry(item), now)
}

// Condition expressions. Every attribute is referred to through a
// placeholder so that reserved words never matter.
const (
	// condFree: the item does not exist or has expired.
	condFree = "attribute_not_exists(#pk) OR #exp <= :now"
	// condVersion: the record exists at version :ver and has not expired.
	condVersion = "#ver = :ver AND (attribute_not_exists(#exp) OR #exp > :now)"
	// condClaim: the name is free, expired or already held by :id.
	condClaim = "attribute_not_exists(#pk) OR #id = :id OR #exp <= :now"
	// condHeld: the name is held by :id.
	condHeld = "#id = :id"
)

func names(ns ...string) map[string]string {
	m := make(map[string]string, len(ns))
	for _, n := range ns {
		m["#"+n] = n
	}
	return m
}

func freeCond(now time.Time) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(condFree), names(attrPK, attrExp), map[string]types.AttributeValue{":now": attrN(now.UnixNano())}
}

func versionCond(ver int64, now time.Time) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(condVersion), names(attrVer, attrExp),
		map[string]types.AttributeValue{":ver": attrN(ver), ":now": attrN(now.UnixNano())}
}

func claimCond(id string, now time.Time) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(condClaim), names(attrPK, attrID, attrExp),
		map[string]types.AttributeValue{":id": attrS(id), ":now": attrN(now.UnixNano())}
}

func heldCond(id string) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(condHeld), names(attrID), map[string]types.AttributeValue{":id": attrS(id)}
}

func (s *Store) put(item map[string]types.AttributeValue, cond func() (*string, map[string]string, map[string]types.AttributeValue)) types.TransactWriteItem {
	c, n, v := cond()
	return types.TransactWriteItem{Put: &types.Put{
		TableName: &s.table, Item: item,
		ConditionExpression: c, ExpressionAttributeNames: n, ExpressionAttributeValues: v,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

func (s *Store) del(k map[string]types.AttributeValue, cond func() (*string, map[string]string, map[string]types.AttributeValue)) types.TransactWriteItem {
	c, n, v := cond()
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: &s.table, Key: k,
		ConditionExpression: c, ExpressionAttributeNames: n, ExpressionAttributeValues: v,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// write runs items as one conditional write: a single PutItem or
// DeleteItem when there is one item, else a transaction. It returns the
// index of the first item whose condition failed (and the item's old
// value, if any), or -1.
func (s *Store) write(ctx context.Context, items []types.TransactWriteItem) (failed int, old map[string]types.AttributeValue, err error) {
	if len(items) > maxTransactItems {
		return -1, nil, errdefs.InvalidParameterf("dynamodb: a record can claim and release at most %d names in one write", maxTransactItems-1)
	}
	if len(items) == 1 {
		var ccf *types.ConditionalCheckFailedException
		if p := items[0].Put; p != nil {
			_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: p.TableName, Item: p.Item,
				ConditionExpression: p.ConditionExpression, ExpressionAttributeNames: p.ExpressionAttributeNames,
				ExpressionAttributeValues:           p.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
		} else {
			d := items[0].Delete
			_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName: d.TableName, Key: d.Key,
				ConditionExpression: d.ConditionExpression, ExpressionAttributeNames: d.ExpressionAttributeNames,
				ExpressionAttributeValues:           d.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
		}
		if errors.As(err, &ccf) {
			return 0, ccf.Item, nil
		}
		return -1, nil, err
	}
	for attempt := 0; ; attempt++ {
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return -1, nil, err
		}
		retry := false
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				return i, r.Item, nil
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
				retry = true
			}
		}
		if !retry {
			return -1, nil, err
		}
		if err := statestore.Backoff(ctx, "dynamodb", attempt); err != nil {
			return -1, nil, err
		}
	}
}

// getItem reads kind/id with a strongly consistent read; ok is false if it
// is missing or expired.
func (s *Store) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, classify(err)
	}
	if out.Item == nil || !live(out.Item, s.now()) {
		return nil, false, nil
	}
	return out.Item, true, nil
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	item, ok, err := s.getItem(ctx, recordPK(kind), id)
	if err != nil {
		return statestore.Record{}, err
	}
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, id)
	}
	return itemRecord(kind, item), nil
}

// GetByName implements statestore.Store.
func (s *Store) GetByName(ctx context.Context, kind, name string) (statestore.Record, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	n, ok, err := s.getItem(ctx, namePK(kind), name)
	if err != nil {
		return statestore.Record{}, err
	}
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	item, ok, err := s.getItem(ctx, recordPK(kind), getS(n, attrID))
	if err != nil {
		return statestore.Record{}, err
	}
	if !ok {
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	r := itemRecord(kind, item)
	if !slices.Contains(r.Names, name) { // a leftover of an expired record
		return statestore.Record{}, statestore.NotFound(kind, name)
	}
	return r, nil
}

// Create implements statestore.Store.
func (s *Store) Create(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	r = statestore.Clone(r)
	r.Version = 1
	now := s.now()
	free := func() (*string, map[string]string, map[string]types.AttributeValue) { return freeCond(now) }
	ns := statestore.UniqueNames(r.Names)
	items := []types.TransactWriteItem{s.put(recordItem(r), free)}
	for _, n := range ns {
		items = append(items, s.put(nameItem(r.Kind, n, r.ID, r.Expires), free))
	}
	failed, _, err := s.write(ctx, append(items, s.eventItems(evs)...))
	switch {
	case err != nil:
		return statestore.Record{}, classify(err)
	case failed == 0:
		return statestore.Record{}, statestore.ConflictExists(r.Kind, r.ID)
	case failed > 0:
		return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: ns[failed-1]}
	}
	return statestore.Clone(r), nil
}

// Update implements statestore.Store.
//
// An update that keeps the record's names and expiry is one conditional
// PutItem; otherwise the record and the name items it claims and releases
// are written in one transaction.
func (s *Store) Update(ctx context.Context, r statestore.Record, evs ...statestore.Event) (statestore.Record, error) {
	if err := statestore.Validate(r); err != nil {
		return statestore.Record{}, err
	}
	if err := s.ready(ctx); err != nil {
		return statestore.Record{}, err
	}
	next := statestore.Clone(r)
	next.Version = r.Version + 1
	item, err := s.updateInPlace(ctx, next, evs)
	if err != nil {
		return statestore.Record{}, err
	}
	if item == nil {
		return next, nil
	}
	for attempt := 0; ; attempt++ {
		// item is the stored record, read by the failed attempt or below.
		now := s.now()
		if !live(item, now) {
			return statestore.Record{}, statestore.NotFound(r.Kind, r.ID)
		}
		cur := itemRecord(r.Kind, item)
		if cur.Version != r.Version {
			return statestore.Record{}, statestore.ConflictVersion(r.Kind, r.ID)
		}
		newNames, oldNames := statestore.UniqueNames(next.Names), statestore.UniqueNames(cur.Names)
		expChanged := !cur.Expires.Equal(next.Expires)

		items := []types.TransactWriteItem{s.put(recordItem(next), func() (*string, map[string]string, map[string]types.AttributeValue) {
			return versionCond(cur.Version, now)
		})}
		var claimed []string // names of items[1:len(claimed)+1]
		for _, n := range newNames {
			if expChanged || !slices.Contains(oldNames, n) {
				claimed = append(claimed, n)
				items = append(items, s.put(nameItem(r.Kind, n, r.ID, next.Expires), func() (*string, map[string]string, map[string]types.AttributeValue) {
					return claimCond(r.ID, now)
				}))
			}
		}
		for _, n := range oldNames {
			if !slices.Contains(newNames, n) {
				items = append(items, s.del(key(namePK(r.Kind), n), func() (*string, map[string]string, map[string]types.AttributeValue) {
					return heldCond(r.ID)
				}))
			}
		}
		failed, _, err := s.write(ctx, append(items, s.eventItems(evs)...))
		switch {
		case err != nil:
			return statestore.Record{}, classify(err)
		case failed < 0:
			return next, nil
		case failed >= 1 && failed <= len(claimed):
			return statestore.Record{}, &statestore.NameConflictError{Kind: r.Kind, Name: claimed[failed-1]}
		}
		// The record changed (or expired) since it was read, or a released
		// name moved: read it again to report the right error.
		if err := statestore.Backoff(ctx, "dynamodb", attempt); err != nil {
			return statestore.Record{}, err
		}
		var ok bool
		if item, ok, err = s.getItem(ctx, recordPK(r.Kind), r.ID); err != nil {
			return statestore.Record{}, err
		} else if !ok {
			return statestore.Record{}, statestore.NotFound(r.Kind, r.ID)
		}
	}
}

// updateInPlace writes next with one PutItem if the stored record is live,
// at version next.Version-1, and has exactly next's names and expiry, so
// that no name item changes. Otherwise it writes nothing and returns the
// stored item (nil if there is none). With events it is a transaction of
// the record's PutItem and the events' puts.
func (s *Store) updateInPlace(ctx context.Context, next statestore.Record, evs []statestore.Event) (map[string]types.AttributeValue, error) {
	now := s.now()
	cond := "#ver = :ver AND (attribute_not_exists(#exp) OR #exp > :now)"
	values := map[string]types.AttributeValue{":ver": attrN(next.Version - 1), ":now": attrN(now.UnixNano())}
	if len(next.Names) == 0 {
		cond += " AND attribute_not_exists(#names)"
	} else {
		cond += " AND #names = :names"
		values[":names"] = recordItem(next)[attrNames]
	}
	if next.Expires.IsZero() {
		cond += " AND attribute_not_exists(#exp)"
	} else {
		cond += " AND #exp = :exp"
		values[":exp"] = attrN(next.Expires.UnixNano())
	}
	if len(evs) > 0 {
		put := types.TransactWriteItem{Put: &types.Put{
			TableName: &s.table, Item: recordItem(next),
			ConditionExpression: &cond, ExpressionAttributeNames: names(attrVer, attrExp, attrNames),
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
		failed, old, err := s.write(ctx, append([]types.TransactWriteItem{put}, s.eventItems(evs)...))
		switch {
		case err != nil:
			return nil, classify(err)
		case failed < 0:
			return nil, nil
		case old == nil:
			return nil, statestore.NotFound(next.Kind, next.ID)
		}
		return old, nil
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: recordItem(next),
		ConditionExpression: &cond, ExpressionAttributeNames: names(attrVer, attrExp, attrNames),
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil {
			return nil, statestore.NotFound(next.Kind, next.ID)
		}
		return ccf.Item, nil
	}
	return nil, classify(err)
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, kind, id string, version int64, evs ...statestore.Event) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		item, ok, err := s.getItem(ctx, recordPK(kind), id)
		if err != nil {
			return err
		}
		if !ok {
			return statestore.NotFound(kind, id)
		}
		cur := itemRecord(kind, item)
		if version != 0 && cur.Version != version {
			return statestore.ConflictVersion(kind, id)
		}
		now := s.now()
		items := []types.TransactWriteItem{s.del(key(recordPK(kind), id), func() (*string, map[string]string, map[string]types.AttributeValue) {
			return versionCond(cur.Version, now)
		})}
		for _, n := range statestore.UniqueNames(cur.Names) {
			items = append(items, s.del(key(namePK(kind), n), func() (*string, map[string]string, map[string]types.AttributeValue) {
				return heldCond(id)
			}))
		}
		failed, _, err := s.write(ctx, append(items, s.eventItems(evs)...))
		if err != nil {
			return classify(err)
		}
		if failed < 0 {
			return nil
		}
		if err := statestore.Backoff(ctx, "dynamodb", attempt); err != nil {
			return err
		}
	}
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
	in := &dynamodb.QueryInput{TableName: &s.table}
	values := map[string]types.AttributeValue{}
	var cond string
	if opts.Group != "" {
		in.IndexName = aws.String(GroupIndex)
		in.ExpressionAttributeNames = names(attrGPK)
		cond = "#gpk = :pk"
		values[":pk"] = attrS(groupKey(kind, opts.Group))
	} else {
		in.ConsistentRead = aws.Bool(true)
		in.ExpressionAttributeNames = names(attrPK)
		cond = "#pk = :pk"
		values[":pk"] = attrS(recordPK(kind))
	}
	if opts.PageToken != "" {
		in.ExpressionAttributeNames["#sk"] = attrSK
		cond += " AND #sk > :after"
		values[":after"] = attrS(opts.PageToken)
	}
	in.KeyConditionExpression = &cond
	in.ExpressionAttributeValues = values

	var page statestore.Page
	now := s.now()
	for {
		in.Limit = aws.Int32(int32(min(limit+1-len(page.Records), 1000)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return statestore.Page{}, classify(err)
		}
		for _, item := range out.Items {
			if !live(item, now) {
				continue
			}
			if len(page.Records) == limit {
				page.NextPageToken = page.Records[limit-1].ID
				return page, nil
			}
			page.Records = append(page.Records, itemRecord(kind, item))
		}
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// AppendEvent implements statestore.Store.
func (s *Store) AppendEvent(ctx context.Context, e statestore.Event) (statestore.Event, error) {
	if err := s.ready(ctx); err != nil {
		return statestore.Event{}, err
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e, item := s.eventItem(e)
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return statestore.Event{}, classify(err)
	}
	return e, nil
}

// eventItem gives e its cursor and returns its item.
func (s *Store) eventItem(e statestore.Event) (statestore.Event, map[string]types.AttributeValue) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Data = slices.Clone(e.Data)
	e.Cursor = statestore.NewCursor(e.Time, fmt.Sprintf("%012x-%s", s.seq.Add(1), s.instance))
	item := key(eventPK, e.Cursor)
	item[attrTime] = attrN(e.Time.UnixNano())
	if len(e.Data) > 0 {
		item[attrData] = &types.AttributeValueMemberB{Value: e.Data}
	}
	setExpiry(item, e.Expires)
	return e, item
}

// eventItems are the unconditional puts of a write's events, written in
// the write's transaction.
func (s *Store) eventItems(evs []statestore.Event) []types.TransactWriteItem {
	out := make([]types.TransactWriteItem, 0, len(evs))
	for _, e := range evs {
		_, item := s.eventItem(e)
		out = append(out, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item}})
	}
	return out
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
	cond := "#pk = :pk"
	values := map[string]types.AttributeValue{":pk": attrS(eventPK)}
	attrNames := names(attrPK)
	if after != "" {
		cond += " AND #sk > :after"
		values[":after"] = attrS(after)
		attrNames["#sk"] = attrSK
	}
	in := &dynamodb.QueryInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: &cond, ExpressionAttributeNames: attrNames, ExpressionAttributeValues: values,
	}
	var out []statestore.Event
	now := s.now()
	for {
		res, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, classify(err)
		}
		for _, item := range res.Items {
			t := time.Unix(0, getN(item, attrTime))
			if !q.Until.IsZero() && t.After(q.Until) {
				return out, nil // cursors, so times, only grow from here
			}
			if !live(item, now) || (!q.Since.IsZero() && t.Before(q.Since)) {
				continue
			}
			out = append(out, statestore.Event{
				Cursor: getS(item, attrSK), Time: t, Data: getB(item, attrData), Expires: expiry(item),
			})
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
		if res.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// classify maps an SDK error to the errdefs classes the Store promises.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errdefs.HTTPStatus(err) != http.StatusInternalServerError { // already classified (by this package)
		return err
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "LimitExceededException",
			"ResourceNotFoundException", "TransactionInProgressException":
			return errdefs.Unavailable(fmt.Errorf("dynamodb: %w", err))
		case "ItemCollectionSizeLimitExceededException":
			return errdefs.RequestTooLarge(fmt.Errorf("dynamodb: %w", err))
		case "ValidationException":
			if msg := strings.ToLower(apiErr.ErrorMessage()); strings.Contains(msg, "item size") || strings.Contains(msg, "larger than") {
				return errdefs.RequestTooLarge(fmt.Errorf("dynamodb: %w", err))
			}
			return errdefs.InvalidParameter(fmt.Errorf("dynamodb: %w", err))
		}
	}
	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) {
		return errdefs.Unavailable(fmt.Errorf("dynamodb: %s: %w", statestore.Unreachable, err))
	}
	return fmt.Errorf("dynamodb: %w", err)
}
