package firestore_test

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
	"github.com/sockerless/sockerless/statestore/firestore"
	"github.com/sockerless/sockerless/statestore/storetest"
)

// emulator is the Firestore emulator, shared by every test of the package.
var emulator = emulators.NewShared(emulators.Firestore)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Stop()
	os.Exit(code)
}

var projects atomic.Int64

// newStore returns a store in a fresh emulator project, so it starts empty.
func newStore(t *testing.T) statestore.Store {
	t.Setenv("FIRESTORE_EMULATOR_HOST", emulator.Get(t).Endpoint)
	s, err := firestore.New(t.Context(), firestore.Options{
		ProjectID: fmt.Sprintf("sockerless-test-%d", projects.Add(1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

func TestUnavailable(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	s, err := firestore.New(t.Context(), firestore.Options{ProjectID: "p", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := s.Get(ctx, "k", "a"); !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), statestore.Unreachable) {
		t.Fatalf("Get() on a closed port error = %v, want unavailable saying %q", err, statestore.Unreachable)
	}
}

func TestNewNeedsProject(t *testing.T) {
	if _, err := firestore.New(t.Context(), firestore.Options{}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("New(no client, no project) error = %v, want invalid parameter", err)
	}
}

func TestTooLarge(t *testing.T) {
	s := newStore(t)
	defer s.Close()
	_, err := s.Create(t.Context(), statestore.Record{Kind: "image", ID: "huge", Data: make([]byte, 1100<<10)})
	if got := errdefs.HTTPStatus(err); got != 413 {
		t.Fatalf("Create(1.1 MiB) error = %v (status %d), want request too large", err, got)
	}
	_, err = s.Create(t.Context(), statestore.Record{Kind: "image", ID: "huge", Names: []string{"n"}, Data: make([]byte, 1100<<10)})
	if got := errdefs.HTTPStatus(err); got != 413 {
		t.Fatalf("Create(1.1 MiB, with a name) error = %v (status %d), want request too large", err, got)
	}
}
