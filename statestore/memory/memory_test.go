package memory_test

import (
	"testing"

	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
	"github.com/sockerless/sockerless/statestore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) statestore.Store { return memory.New() })
}

func TestChangedWakesOnUpdate(t *testing.T) {
	s := memory.New()
	ch := s.Changed("k", "a")
	if _, err := s.Create(t.Context(), statestore.Record{Kind: "k", ID: "a"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed() channel not closed after Create")
	}
}
