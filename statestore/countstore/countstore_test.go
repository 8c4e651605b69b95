package countstore_test

import (
	"context"
	"testing"

	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/countstore"
	"github.com/sockerless/sockerless/statestore/memory"
	"github.com/sockerless/sockerless/statestore/storetest"
)

// The wrapper changes nothing about the store's behaviour.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) statestore.Store {
		s, _ := countstore.Wrap(memory.New())
		return s
	})
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	s, c := countstore.Wrap(memory.New())
	if _, ok := s.(statestore.Watcher); !ok {
		t.Fatal("wrapping a Watcher lost it")
	}
	r, err := s.Create(ctx, statestore.Record{Kind: "container", ID: "a", Names: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	before := c.Counts()
	if _, err := s.Get(ctx, "container", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetByName(ctx, "container", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, "container", statestore.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx, statestore.Event{Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Events(ctx, statestore.EventQuery{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "container", "a", 0); err != nil {
		t.Fatal(err)
	}
	d := c.Counts().Sub(before)
	if d.Total() != 7 || d.Writes() != 3 || d.Reads() != 4 {
		t.Fatalf("counts %v: total %d writes %d reads %d, want 7, 3, 4", d, d.Total(), d.Writes(), d.Reads())
	}
	if got, want := d.String(), "AppendEvent=1 Delete container=1 Events=1 Get container=1 GetByName container=1 List container=1 Update container=1"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if c.Counts()[countstore.Key{Op: countstore.OpCreate, Kind: "container"}] != 1 {
		t.Fatalf("create not counted: %v", c.Counts())
	}
}

func TestTrace(t *testing.T) {
	ctx := context.Background()
	s := countstore.New(memory.New())
	var calls []countstore.Call
	s.Trace(func(c countstore.Call) { calls = append(calls, c) })
	_, _ = s.Get(ctx, "container", "x")
	_, _ = s.List(ctx, "exec", statestore.ListOptions{})
	s.Trace(nil)
	_, _ = s.Get(ctx, "container", "y")
	want := []countstore.Call{
		{Key: countstore.Key{Op: countstore.OpGet, Kind: "container"}, ID: "x"},
		{Key: countstore.Key{Op: countstore.OpList, Kind: "exec"}},
	}
	if len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("traced %v, want %v", calls, want)
	}
}
