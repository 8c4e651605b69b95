package dynamodb_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/dynamodb"
	"github.com/sockerless/sockerless/statestore/storetest"
)

// emulator is DynamoDB Local, shared by every test of the package.
var emulator = emulators.NewShared(emulators.DynamoDB)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Stop()
	os.Exit(code)
}

var tables atomic.Int64

// newStore returns a store on a fresh table of the shared emulator.
func newStore(t *testing.T) statestore.Store {
	s, err := dynamodb.New(dynamodb.Options{
		Endpoint: emulator.Get(t).Endpoint,
		Table:    fmt.Sprintf("sockerless-test-%d", tables.Add(1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

func TestEnsureTableTwice(t *testing.T) {
	s := newStore(t).(*dynamodb.Store)
	for range 2 {
		if err := s.EnsureTable(t.Context()); err != nil {
			t.Fatalf("EnsureTable() error = %v", err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	s := newStore(t)
	_, err := s.Create(t.Context(), statestore.Record{Kind: "image", ID: "huge", Data: make([]byte, 500<<10)})
	if got := errdefs.HTTPStatus(err); got != 413 {
		t.Fatalf("Create(500 KiB) error = %v (status %d), want request too large", err, got)
	}
	_, err = s.Create(t.Context(), statestore.Record{Kind: "image", ID: "huge", Names: []string{"n"}, Data: make([]byte, 500<<10)})
	if got := errdefs.HTTPStatus(err); got != 413 {
		t.Fatalf("Create(500 KiB, with a name) error = %v (status %d), want request too large", err, got)
	}
	_, err = s.Create(t.Context(), statestore.Record{Kind: "image", ID: strings.Repeat("x", 2000)})
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("Create(2000-byte id) error = %v, want invalid parameter", err)
	}
}

func TestUnavailable(t *testing.T) {
	s, err := dynamodb.New(dynamodb.Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := s.Get(ctx, "k", "a"); !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), statestore.Unreachable) {
		t.Fatalf("Get() on a closed port error = %v, want unavailable saying %q", err, statestore.Unreachable)
	}
}

func TestNewNeedsEndpoint(t *testing.T) {
	if _, err := dynamodb.New(dynamodb.Options{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("New(no client, no endpoint) error = %v, want invalid parameter", err)
	}
}

func TestMissingTable(t *testing.T) {
	s, err := dynamodb.New(dynamodb.Options{Endpoint: emulator.Get(t).Endpoint, Table: "no-such-table", NoCreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Get(ctx, "k", "a"); !errdefs.IsUnavailable(err) {
		t.Errorf("Get() without a table error = %v, want unavailable", err)
	}
	if _, err := s.Create(ctx, statestore.Record{Kind: "k", ID: "a", Names: []string{"n"}}); !errdefs.IsUnavailable(err) {
		t.Errorf("Create() without a table error = %v, want unavailable", err)
	}
	if _, err := s.List(ctx, "k", statestore.ListOptions{}); !errdefs.IsUnavailable(err) {
		t.Errorf("List() without a table error = %v, want unavailable", err)
	}
}
