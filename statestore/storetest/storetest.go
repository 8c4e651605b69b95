// Package storetest is the conformance suite every statestore.Store
// implementation must pass unchanged. Call Run from the implementation's
// test with a constructor for a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// NewStore returns an empty store for one test. The suite closes it.
type NewStore func(t *testing.T) statestore.Store

// Run runs every conformance case against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s statestore.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateConflict", testCreateConflict},
		{"UpdateVersion", testUpdateVersion},
		{"DeleteVersion", testDeleteVersion},
		{"LostUpdate", testLostUpdate},
		{"NameRace", testNameRace},
		{"NameSwap", testNameSwap},
		{"ListGroupAndPages", testList},
		{"EventCursors", testEvents},
		{"TTL", testTTL},
		{"LargeRecord", testLarge},
		{"Validation", testValidation},
		{"WriteEvents", testWriteEvents},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			c.fn(t, s)
		})
	}
	t.Run("Extra", func(t *testing.T) { runExtra(t, newStore) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustCreate(t *testing.T, s statestore.Store, r statestore.Record) statestore.Record {
	t.Helper()
	got, err := s.Create(ctx(t), r)
	if err != nil {
		t.Fatalf("Create(%s/%s) error = %v", r.Kind, r.ID, err)
	}
	return got
}

func testCreateGet(t *testing.T, s statestore.Store) {
	r := mustCreate(t, s, statestore.Record{Kind: "container", ID: "c1", Names: []string{"web"}, Group: "g", Data: []byte(`{"a":1}`)})
	if r.Version != 1 {
		t.Errorf("Create().Version = %d, want 1", r.Version)
	}
	got, err := s.Get(ctx(t), "container", "c1")
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if !bytes.Equal(got.Data, []byte(`{"a":1}`)) || got.Version != 1 || got.Group != "g" || len(got.Names) != 1 || got.Names[0] != "web" {
		t.Errorf("Get() = %+v, want the created record", got)
	}
	byName, err := s.GetByName(ctx(t), "container", "web")
	if err != nil || byName.ID != "c1" {
		t.Errorf("GetByName(web) = %+v, %v; want c1", byName, err)
	}
	if _, err := s.Get(ctx(t), "container", "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(missing) error = %v, want not found", err)
	}
	if _, err := s.GetByName(ctx(t), "container", "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("GetByName(missing) error = %v, want not found", err)
	}
	// Kinds are separate namespaces for ids and names.
	mustCreate(t, s, statestore.Record{Kind: "volume", ID: "c1", Names: []string{"web"}})
}

func testCreateConflict(t *testing.T, s statestore.Store) {
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "a", Names: []string{"n1"}})
	_, err := s.Create(ctx(t), statestore.Record{Kind: "k", ID: "a"})
	if !errdefs.IsConflict(err) || !errors.Is(err, statestore.ErrExists) {
		t.Errorf("Create(dup id) error = %v, want conflict wrapping ErrExists", err)
	}
	_, err = s.Create(ctx(t), statestore.Record{Kind: "k", ID: "b", Names: []string{"n2", "n1"}})
	var nc *statestore.NameConflictError
	if !errors.As(err, &nc) || nc.Name != "n1" || !errdefs.IsConflict(err) {
		t.Errorf("Create(dup name) error = %v, want NameConflictError for n1", err)
	}
	// The failed create left nothing behind: neither the record nor n2.
	if _, err := s.Get(ctx(t), "k", "b"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(b) after failed create error = %v, want not found", err)
	}
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "c", Names: []string{"n2"}})
}

func testUpdateVersion(t *testing.T, s statestore.Store) {
	r := mustCreate(t, s, statestore.Record{Kind: "k", ID: "a", Data: []byte("v1")})
	r.Data = []byte("v2")
	r2, err := s.Update(ctx(t), r)
	if err != nil || r2.Version != 2 {
		t.Fatalf("Update() = %+v, %v; want version 2", r2, err)
	}
	r.Data = []byte("stale")
	if _, err := s.Update(ctx(t), r); !errdefs.IsConflict(err) || !errors.Is(err, statestore.ErrVersion) {
		t.Errorf("Update(stale) error = %v, want version conflict", err)
	}
	got, _ := s.Get(ctx(t), "k", "a")
	if string(got.Data) != "v2" {
		t.Errorf("Get().Data = %q after stale update, want v2", got.Data)
	}
	if _, err := s.Update(ctx(t), statestore.Record{Kind: "k", ID: "missing", Version: 1}); !errdefs.IsNotFound(err) {
		t.Errorf("Update(missing) error = %v, want not found", err)
	}
}

func testDeleteVersion(t *testing.T, s statestore.Store) {
	r := mustCreate(t, s, statestore.Record{Kind: "k", ID: "a", Names: []string{"n"}})
	if err := s.Delete(ctx(t), "k", "a", r.Version+1); !errdefs.IsConflict(err) {
		t.Errorf("Delete(stale) error = %v, want conflict", err)
	}
	if err := s.Delete(ctx(t), "k", "a", r.Version); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if err := s.Delete(ctx(t), "k", "a", 0); !errdefs.IsNotFound(err) {
		t.Errorf("Delete(gone) error = %v, want not found", err)
	}
	// The name is free again.
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "b", Names: []string{"n"}})
	if err := s.Delete(ctx(t), "k", "b", 0); err != nil {
		t.Errorf("Delete(unconditional) error = %v", err)
	}
}

// testLostUpdate has 20 goroutines add 50 each to one counter with
// read-modify-write; optimistic concurrency must not lose any.
func testLostUpdate(t *testing.T, s statestore.Store) {
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "counter", Data: []byte("0")})
	const workers, each = 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					r, err := s.Get(ctx(t), "k", "counter")
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(string(r.Data))
					r.Data = []byte(strconv.Itoa(n + 1))
					if _, err = s.Update(ctx(t), r); err == nil {
						break
					} else if !errdefs.IsConflict(err) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment error = %v", err)
	}
	r, _ := s.Get(ctx(t), "k", "counter")
	if string(r.Data) != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d", r.Data, workers*each)
	}
}

// testNameRace has many goroutines create different records with one name:
// exactly one wins.
func testNameRace(t *testing.T, s statestore.Store) {
	const racers = 20
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(ctx(t), statestore.Record{Kind: "container", ID: fmt.Sprintf("id%02d", i), Names: []string{"web"}})
			switch {
			case err == nil:
				wins.Add(1)
			case errdefs.IsConflict(err):
				conflicts.Add(1)
			default:
				t.Errorf("Create() error = %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != racers-1 {
		t.Errorf("wins, conflicts = %d, %d; want 1, %d", wins.Load(), conflicts.Load(), racers-1)
	}
	page, err := s.List(ctx(t), "container", statestore.ListOptions{})
	if err != nil || len(page.Records) != 1 {
		t.Errorf("List() = %d records, %v; want 1", len(page.Records), err)
	}
}

// testNameSwap renames through Update: the old name is released and the
// new one claimed atomically; a taken name fails and changes nothing.
func testNameSwap(t *testing.T, s statestore.Store) {
	a := mustCreate(t, s, statestore.Record{Kind: "k", ID: "a", Names: []string{"old"}})
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "b", Names: []string{"taken"}})
	a.Names = []string{"taken"}
	if _, err := s.Update(ctx(t), a); !errdefs.IsConflict(err) {
		t.Fatalf("Update(to taken name) error = %v, want conflict", err)
	}
	if got, err := s.GetByName(ctx(t), "k", "old"); err != nil || got.ID != "a" {
		t.Fatalf("GetByName(old) after failed rename = %v, %v", got.ID, err)
	}
	a.Names = []string{"new"}
	if _, err := s.Update(ctx(t), a); err != nil {
		t.Fatalf("Update(rename) error = %v", err)
	}
	if _, err := s.GetByName(ctx(t), "k", "old"); !errdefs.IsNotFound(err) {
		t.Errorf("GetByName(old) after rename error = %v, want not found", err)
	}
	if got, err := s.GetByName(ctx(t), "k", "new"); err != nil || got.ID != "a" {
		t.Errorf("GetByName(new) = %v, %v; want a", got.ID, err)
	}
	mustCreate(t, s, statestore.Record{Kind: "k", ID: "c", Names: []string{"old"}})
}

func testList(t *testing.T, s statestore.Store) {
	const n = 250
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			g := "even"
			if i%2 == 1 {
				g = "odd"
			}
			mustCreate(t, s, statestore.Record{Kind: "exec", ID: fmt.Sprintf("e%04d", i), Group: g})
		}()
	}
	wg.Wait()
	mustCreate(t, s, statestore.Record{Kind: "other", ID: "x"})
	var all []string
	opts := statestore.ListOptions{Limit: 100}
	pages := 0
	for {
		p, err := s.List(ctx(t), "exec", opts)
		if err != nil {
			t.Fatalf("List() error = %v", err)
		}
		pages++
		if len(p.Records) > 100 {
			t.Fatalf("List(Limit 100) returned %d records", len(p.Records))
		}
		for _, r := range p.Records {
			all = append(all, r.ID)
		}
		if p.NextPageToken == "" {
			break
		}
		opts.PageToken = p.NextPageToken
		if pages > 10 {
			t.Fatal("List() never ended")
		}
	}
	if len(all) != n || pages < 3 {
		t.Fatalf("List() paged %d records in %d pages, want %d in >= 3", len(all), pages, n)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Fatalf("List() not ordered by id: %s before %s", all[i-1], all[i])
		}
	}
	odd, err := listAll(t, s, "exec", "odd")
	if err != nil || len(odd) != n/2 {
		t.Fatalf("List(group odd) = %d, %v; want %d", len(odd), err, n/2)
	}
	for _, r := range odd {
		if r.Group != "odd" {
			t.Fatalf("List(group odd) returned group %q", r.Group)
		}
	}
}

func listAll(t *testing.T, s statestore.Store, kind, group string) ([]statestore.Record, error) {
	var out []statestore.Record
	opts := statestore.ListOptions{Group: group}
	for {
		p, err := s.List(ctx(t), kind, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Records...)
		if p.NextPageToken == "" {
			return out, nil
		}
		opts.PageToken = p.NextPageToken
	}
}

func testEvents(t *testing.T, s statestore.Store) {
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var cursors []string
	for i := range 5 {
		e, err := s.AppendEvent(ctx(t), statestore.Event{Time: base.Add(time.Duration(i) * time.Second), Data: []byte{byte('a' + i)}})
		if err != nil {
			t.Fatalf("AppendEvent() error = %v", err)
		}
		cursors = append(cursors, e.Cursor)
	}
	for i := 1; i < len(cursors); i++ {
		if cursors[i-1] >= cursors[i] {
			t.Fatalf("cursors not increasing: %q then %q", cursors[i-1], cursors[i])
		}
	}
	all, err := s.Events(ctx(t), statestore.EventQuery{})
	if err != nil || len(all) != 5 {
		t.Fatalf("Events() = %d, %v; want 5", len(all), err)
	}
	after, _ := s.Events(ctx(t), statestore.EventQuery{After: cursors[2]})
	if len(after) != 2 || string(after[0].Data) != "d" {
		t.Errorf("Events(After c2) = %d events, want d,e", len(after))
	}
	window, _ := s.Events(ctx(t), statestore.EventQuery{Since: base.Add(time.Second), Until: base.Add(3 * time.Second)})
	if len(window) != 3 || string(window[0].Data) != "b" || string(window[2].Data) != "d" {
		t.Errorf("Events(since/until) = %d events, want b..d", len(window))
	}
	limited, _ := s.Events(ctx(t), statestore.EventQuery{Limit: 2})
	if len(limited) != 2 || string(limited[1].Data) != "b" {
		t.Errorf("Events(Limit 2) = %d events, want a,b", len(limited))
	}
	if tm, ok := statestore.CursorTime(cursors[0]); !ok || !tm.Equal(base) {
		t.Errorf("CursorTime() = %v, %v; want %v", tm, ok, base)
	}
}

func testTTL(t *testing.T, s statestore.Store) {
	exp := time.Now().Add(500 * time.Millisecond)
	mustCreate(t, s, statestore.Record{Kind: "exec", ID: "short", Names: []string{"n"}, Expires: exp})
	mustCreate(t, s, statestore.Record{Kind: "exec", ID: "long"})
	if _, err := s.AppendEvent(ctx(t), statestore.Event{Data: []byte("gone"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx(t), statestore.Event{Data: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), "exec", "short"); err != nil {
		t.Fatalf("Get(short) before expiry error = %v", err)
	}
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	if _, err := s.Get(ctx(t), "exec", "short"); !errdefs.IsNotFound(err) {
		t.Errorf("Get(expired) error = %v, want not found", err)
	}
	if _, err := s.GetByName(ctx(t), "exec", "n"); !errdefs.IsNotFound(err) {
		t.Errorf("GetByName(expired) error = %v, want not found", err)
	}
	recs, _ := listAll(t, s, "exec", "")
	if len(recs) != 1 || recs[0].ID != "long" {
		t.Errorf("List() after expiry = %d records, want only long", len(recs))
	}
	evs, _ := s.Events(ctx(t), statestore.EventQuery{})
	if len(evs) != 1 || string(evs[0].Data) != "kept" {
		t.Errorf("Events() after expiry = %d, want only kept", len(evs))
	}
	// An expired record's id and name can be reused.
	mustCreate(t, s, statestore.Record{Kind: "exec", ID: "short", Names: []string{"n"}})
}

func testLarge(t *testing.T, s statestore.Store) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 300*1024/16) // 300 KiB
	r := mustCreate(t, s, statestore.Record{Kind: "image", ID: "big", Data: data})
	got, err := s.Get(ctx(t), "image", "big")
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("Get(big) = %d bytes, %v; want %d", len(got.Data), err, len(data))
	}
	r.Data = append(data, 'x')
	if _, err := s.Update(ctx(t), r); err != nil {
		t.Fatalf("Update(big) error = %v", err)
	}
}

func testValidation(t *testing.T, s statestore.Store) {
	if _, err := s.Create(ctx(t), statestore.Record{Kind: "k"}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("Create(no id) error = %v, want invalid parameter", err)
	}
}
