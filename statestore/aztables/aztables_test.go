package aztables_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"github.com/sockerless/sockerless/statestore"
	store "github.com/sockerless/sockerless/statestore/aztables"
	"github.com/sockerless/sockerless/statestore/storetest"
)

// emulator is Azurite, shared by every test of the package.
var emulator = emulators.NewShared(emulators.Azurite)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Stop()
	os.Exit(code)
}

var tables atomic.Int64

// newStore returns a store on a fresh table of the shared emulator.
func newStore(t *testing.T) statestore.Store {
	return newAzStore(t)
}

func newAzStore(t *testing.T) *store.Store {
	s, err := store.New(store.Options{
		ConnectionString: emulator.Get(t).Endpoint,
		Table:            fmt.Sprintf("sockerlesstest%d", tables.Add(1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

func TestTooLarge(t *testing.T) {
	s := newAzStore(t)
	_, err := s.Create(t.Context(), statestore.Record{Kind: "image", ID: "huge", Data: make([]byte, store.MaxData+1)})
	if got := errdefs.HTTPStatus(err); got != 413 {
		t.Fatalf("Create(MaxData+1) error = %v (status %d), want request too large", err, got)
	}
	big := statestore.Record{Kind: "image", ID: "max", Group: "g", Data: make([]byte, store.MaxData)}
	if _, err := s.Create(t.Context(), big); err != nil {
		t.Fatalf("Create(MaxData with a group copy) error = %v", err)
	}
}

func TestPurge(t *testing.T) {
	s := newAzStore(t)
	ctx := t.Context()
	exp := time.Now().Add(200 * time.Millisecond)
	if _, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "a", Names: []string{"n"}, Group: "g", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "b", Names: []string{"m"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx, statestore.Event{Data: []byte("x"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	n, err := s.Purge(ctx)
	if err != nil || n != 4 { // record, group row, name, event
		t.Fatalf("Purge() = %d, %v; want 4 rows", n, err)
	}
	if got, err := s.GetByName(ctx, "exec", "m"); err != nil || got.ID != "b" {
		t.Fatalf("GetByName(m) after Purge = %v, %v; want b", got.ID, err)
	}
}

func TestUnavailable(t *testing.T) {
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=http://127.0.0.1:1/%s;",
		emulators.AzuriteAccount, emulators.AzuriteKey, emulators.AzuriteAccount)
	s, err := store.New(store.Options{
		ConnectionString: conn,
		ClientOptions:    &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := s.Get(ctx, "k", "a"); !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), statestore.Unreachable) {
		t.Fatalf("Get() on a closed port error = %v, want unavailable saying %q", err, statestore.Unreachable)
	}
}

func TestNewNeedsConnectionString(t *testing.T) {
	if _, err := store.New(store.Options{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("New(no client, no connection string) error = %v, want invalid parameter", err)
	}
}

func TestMissingTable(t *testing.T) {
	s, err := store.New(store.Options{ConnectionString: emulator.Get(t).Endpoint, Table: "nosuchtable", NoCreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Get(ctx, "k", "a"); !errdefs.IsUnavailable(err) {
		t.Errorf("Get() without a table error = %v, want unavailable", err)
	}
	if _, err := s.Create(ctx, statestore.Record{Kind: "k", ID: "a"}); !errdefs.IsUnavailable(err) {
		t.Errorf("Create() without a table error = %v, want unavailable", err)
	}
	if _, err := s.List(ctx, "k", statestore.ListOptions{}); !errdefs.IsUnavailable(err) {
		t.Errorf("List() without a table error = %v, want unavailable", err)
	}
}
