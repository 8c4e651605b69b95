package bounded

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
	"github.com/sockerless/sockerless/statestore/storetest"
)

// hung is a store whose every call blocks until release is closed,
// ignoring its context, as a store whose server stopped answering can.
type hung struct {
	statestore.Store
	release chan struct{}
}

func (h hung) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	<-h.release
	return h.Store.Get(ctx, kind, id)
}

func (h hung) List(ctx context.Context, kind string, o statestore.ListOptions) (statestore.Page, error) {
	<-h.release
	return statestore.Page{}, ctx.Err()
}

func TestHungStoreAnswersUnavailable(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := New(hung{Store: memory.New(), release: release}, "test", 50*time.Millisecond)
	tests := []struct {
		name string
		call func() error
	}{
		{"get ignores its context", func() error { _, err := s.Get(context.Background(), "k", "a"); return err }},
		{"list", func() error { _, err := s.List(context.Background(), "k", statestore.ListOptions{}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), statestore.Unreachable) {
				t.Fatalf("err = %v, want unavailable saying %q", err, statestore.Unreachable)
			}
		})
	}
}

func TestCallerCancellationIsNotAnOutage(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := New(hung{Store: memory.New(), release: release}, "test", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "k", "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPassesAnswersThrough(t *testing.T) {
	inner := memory.New()
	s := New(inner, "memory", time.Minute)
	if _, ok := s.(statestore.Watcher); !ok {
		t.Fatal("the wrapper lost the memory store's Watcher")
	}
	ctx := context.Background()
	if _, err := s.Create(ctx, statestore.Record{Kind: "k", ID: "a", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "k", "a"); err != nil || r.Version != 1 {
		t.Fatalf("Get = %+v, %v", r, err)
	}
	if _, err := s.Get(ctx, "k", "missing"); !errdefs.IsNotFound(err) {
		t.Fatalf("Get(missing) = %v, want not found", err)
	}
}

// TestConformance runs the store conformance suite through the wrapper.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) statestore.Store { return New(memory.New(), "memory", time.Minute) })
}
