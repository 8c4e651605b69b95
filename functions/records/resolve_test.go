package records

import (
	"context"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore/countstore"
	"github.com/sockerless/sockerless/statestore/memory"
)

// Resolution keeps Docker's order (id, name, unique prefix) and skips the
// lookups that cannot match, counted in store round trips.
func TestResolveRoundTrips(t *testing.T) {
	ctx := context.Background()
	cs := countstore.New(memory.New())
	st := New(cs)
	id1 := "abc1" + strings.Repeat("0", IDLength-4)
	id2 := "abc2" + strings.Repeat("0", IDLength-4)
	for _, c := range []*Container{{ID: id1, Name: "web"}, {ID: id2, Name: "abc1"}} {
		if err := st.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ref    string
		wantID string // "" means not found
		calls  int
	}{
		{id1, id1, 1},                    // full id: one Get
		{"web", id1, 1},                  // not hex: the name only
		{"/web", id1, 1},                 // leading slash
		{"abc1", id2, 2},                 // hex-like name: id miss, then the name
		{"abc2", id2, 3},                 // unique prefix: id miss, name miss, list
		{"nosuch", "", 1},                // not hex, no name: no list
		{strings.Repeat("f", 64), "", 2}, // full-length id miss: no list
		{"fff", "", 3},                   // hex prefix miss
	}
	for _, tt := range tests {
		before := cs.Counts()
		c, err := st.Container(ctx, tt.ref)
		calls := cs.Counts().Sub(before).Total()
		switch {
		case tt.wantID == "" && !errdefs.IsNotFound(err):
			t.Errorf("Container(%q) = %v, %v; want not found", tt.ref, c, err)
		case tt.wantID != "" && (err != nil || c.ID != tt.wantID):
			t.Errorf("Container(%q) = %v, %v; want %s", tt.ref, c, err, tt.wantID)
		}
		if calls != tt.calls {
			t.Errorf("Container(%q) made %d store calls, want %d", tt.ref, calls, tt.calls)
		}
	}
	if _, err := st.Container(ctx, "abc"); !errdefs.IsInvalidParameter(err) {
		t.Errorf("ambiguous prefix: %v, want 400", err)
	}
}
