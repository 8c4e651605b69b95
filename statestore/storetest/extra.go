package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
)

// runExtra covers updates that keep names, renewing an expiry, and ids and
// names with characters that are special to backends' keys.
func runExtra(t *testing.T, newStore NewStore) {
	t.Run("UpdateKeepsNames", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := t.Context()
		r, err := s.Create(ctx, statestore.Record{Kind: "k", ID: "a", Names: []string{"x", "y"}, Data: []byte("1")})
		if err != nil {
			t.Fatal(err)
		}
		r.Data = []byte("2")
		if r, err = s.Update(ctx, r); err != nil || r.Version != 2 {
			t.Fatalf("Update() = %+v, %v", r, err)
		}
		for _, n := range []string{"x", "y"} {
			if got, err := s.GetByName(ctx, "k", n); err != nil || string(got.Data) != "2" {
				t.Fatalf("GetByName(%s) = %+v, %v", n, got, err)
			}
		}
		r.Names = []string{"y"} // release x only
		if _, err = s.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetByName(ctx, "k", "x"); !errdefs.IsNotFound(err) {
			t.Fatalf("GetByName(x) after release error = %v, want not found", err)
		}
		if _, err := s.Create(ctx, statestore.Record{Kind: "k", ID: "b", Names: []string{"y"}}); !errdefs.IsConflict(err) {
			t.Fatalf("Create(name y) error = %v, want conflict", err)
		}
	})
	t.Run("RenewExpiry", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := t.Context()
		exp := time.Now().Add(300 * time.Millisecond)
		r, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "a", Names: []string{"n"}, Group: "g", Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		r.Expires = time.Time{}
		if _, err = s.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(exp) + 100*time.Millisecond)
		if got, err := s.GetByName(ctx, "exec", "n"); err != nil || got.ID != "a" {
			t.Fatalf("GetByName(n) after renewal = %+v, %v", got, err)
		}
		var nc *statestore.NameConflictError
		if _, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "b", Names: []string{"n"}}); !errors.As(err, &nc) {
			t.Fatalf("Create(name n) error = %v, want name conflict", err)
		}
		p, err := s.List(ctx, "exec", statestore.ListOptions{Group: "g"})
		if err != nil || len(p.Records) != 1 {
			t.Fatalf("List(group g) = %+v, %v; want a", p, err)
		}
	})
	t.Run("ExpiredRecordReplaced", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := t.Context()
		exp := time.Now().Add(200 * time.Millisecond)
		if _, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "a", Names: []string{"old"}, Group: "g1", Expires: exp}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(exp) + 50*time.Millisecond)
		if _, err := s.Create(ctx, statestore.Record{Kind: "exec", ID: "a", Names: []string{"new"}, Group: "g2"}); err != nil {
			t.Fatalf("Create(over expired) error = %v", err)
		}
		if _, err := s.GetByName(ctx, "exec", "old"); !errdefs.IsNotFound(err) {
			t.Errorf("GetByName(old) error = %v, want not found", err)
		}
		for g, want := range map[string]int{"g1": 0, "g2": 1} {
			if p, err := s.List(ctx, "exec", statestore.ListOptions{Group: g}); err != nil || len(p.Records) != want {
				t.Errorf("List(group %s) = %d records, %v; want %d", g, len(p.Records), err, want)
			}
		}
		if err := s.Delete(ctx, "exec", "a", 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("SpecialCharacters", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := t.Context()
		kind := "image/v1#x"
		ids := []string{"sha256:ab", "a/b", "a.b", "..", "__x__", "q?'\"\\%", "é"}
		for _, id := range ids {
			if _, err := s.Create(ctx, statestore.Record{Kind: kind, ID: id, Names: []string{"docker.io/library/" + id + ":latest"}, Group: "g/" + id}); err != nil {
				t.Fatalf("Create(%q) error = %v", id, err)
			}
		}
		for _, id := range ids {
			got, err := s.GetByName(ctx, kind, "docker.io/library/"+id+":latest")
			if err != nil || got.ID != id {
				t.Errorf("GetByName(%q) = %q, %v", id, got.ID, err)
			}
			if p, err := s.List(ctx, kind, statestore.ListOptions{Group: "g/" + id}); err != nil || len(p.Records) != 1 || p.Records[0].ID != id {
				t.Errorf("List(group g/%s) = %+v, %v", id, p.Records, err)
			}
		}
		var listed []string
		opts := statestore.ListOptions{Limit: 2}
		for {
			p, err := s.List(ctx, kind, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				listed = append(listed, r.ID)
			}
			if p.NextPageToken == "" {
				break
			}
			opts.PageToken = p.NextPageToken
		}
		if len(listed) != len(ids) {
			t.Fatalf("List() = %q, want all of %q", listed, ids)
		}
		for i := 1; i < len(listed); i++ {
			if listed[i-1] >= listed[i] {
				t.Fatalf("List() = %q, not in id order", listed)
			}
		}
	})
}
