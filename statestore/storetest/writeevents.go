package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// testWriteEvents checks the events a Create, Update or Delete carries:
// appended, in order, when the write is made (whichever form the write
// takes: with or without names changing, with one or several events), and
// not at all when it fails.
func testWriteEvents(t *testing.T, s statestore.Store) {
	c := ctx(t)
	exp := time.Now().Add(time.Hour)
	ev := func(tag string) statestore.Event {
		return statestore.Event{Data: []byte(tag), Expires: exp}
	}
	logged := func() []string {
		t.Helper()
		evs, err := s.Events(c, statestore.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			if e.Cursor == "" || e.Time.IsZero() {
				t.Errorf("event %q without cursor or time: %+v", e.Data, e)
			}
			out = append(out, string(e.Data))
		}
		return out
	}
	want := func(step string, tags ...string) {
		t.Helper()
		if got := strings.Join(logged(), " "); got != strings.Join(tags, " ") {
			t.Fatalf("%s: log %q, want %q", step, got, strings.Join(tags, " "))
		}
	}

	r, err := s.Create(c, statestore.Record{Kind: "ct", ID: "a", Names: []string{"alpha"}, Data: []byte("1")}, ev("connect"), ev("create"))
	if err != nil {
		t.Fatal(err)
	}
	want("create", "connect", "create")

	// Failed writes append nothing.
	if _, err := s.Create(c, statestore.Record{Kind: "ct", ID: "a", Data: []byte("x")}, ev("bad-exists")); !errdefs.IsConflict(err) {
		t.Fatalf("create existing: %v", err)
	}
	var nc *statestore.NameConflictError
	if _, err := s.Create(c, statestore.Record{Kind: "ct", ID: "b", Names: []string{"alpha"}}, ev("bad-name")); !errors.As(err, &nc) {
		t.Fatalf("create with taken name: %v", err)
	}
	if _, err := s.Update(c, statestore.Record{Kind: "ct", ID: "a", Names: []string{"alpha"}, Version: 7}, ev("bad-version")); !errors.Is(err, statestore.ErrVersion) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := s.Update(c, statestore.Record{Kind: "ct", ID: "nope", Version: 1}, ev("bad-missing")); !errdefs.IsNotFound(err) {
		t.Fatalf("update of missing: %v", err)
	}
	if err := s.Delete(c, "ct", "a", 9, ev("bad-delete")); !errors.Is(err, statestore.ErrVersion) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.Delete(c, "ct", "nope", 0, ev("bad-delete-missing")); !errdefs.IsNotFound(err) {
		t.Fatalf("delete of missing: %v", err)
	}
	want("failed writes", "connect", "create")

	// An update that keeps the names, then one that changes them.
	r.Data = []byte("2")
	if r, err = s.Update(c, r, ev("start")); err != nil {
		t.Fatal(err)
	}
	r.Names = []string{"alpha", "ip:bridge:172.17.0.5"}
	if r, err = s.Update(c, r, ev("connect2"), ev("rename")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByName(c, "ct", "ip:bridge:172.17.0.5"); err != nil || got.Version != 3 {
		t.Fatalf("name claimed by update with events: %+v %v", got, err)
	}
	// A write without events still works, and appends nothing.
	if r, err = s.Update(c, r); err != nil {
		t.Fatal(err)
	}
	want("updates", "connect", "create", "start", "connect2", "rename")

	if err := s.Delete(c, "ct", "a", r.Version, ev("die"), ev("destroy")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetByName(c, "ct", "alpha"); !errdefs.IsNotFound(err) {
		t.Fatalf("name after delete with events: %v", err)
	}
	want("delete", "connect", "create", "start", "connect2", "rename", "die", "destroy")

	// The events of racing updates: exactly the winners' events are logged.
	base, err := s.Create(c, statestore.Record{Kind: "ct", ID: "race", Data: []byte("0")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	won := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprintf("w%d", i)
			if _, err := s.Update(c, base, ev(tag)); err == nil {
				won <- tag
			} else if !errors.Is(err, statestore.ErrVersion) {
				t.Errorf("racing update: %v", err)
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []string
	for w := range won {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("racing updates from one version: %d won", len(winners))
	}
	want("race", "connect", "create", "start", "connect2", "rename", "die", "destroy", winners[0])
}
