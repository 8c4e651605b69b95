package localshim

import (
	"errors"
	"os"
	"testing"

	"github.com/sockerless/sockerless/internal/treesync"
)

// TestForgetCarriedClosesWatchers: the watchers of a container's carried
// binds live until the shim forgets the container (its removal), which
// closes them, and no other container's.
func TestForgetCarriedClosesWatchers(t *testing.T) {
	s := &Shim{}
	acquire := func(key string) *treesync.Watcher {
		t.Helper()
		r, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		w, release, err := s.carryWatchers().Acquire(key, r)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if _, err := w.Scan(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	mine, other := acquire("c1\x00/__w"), acquire("c2\x00/__w")
	s.carry.binds = map[string]carried{"c1": {id: "c1"}, "job": {id: "c1"}, "c2": {id: "c2"}}
	s.forgetCarried("job")
	if _, err := mine.Scan(); !errors.Is(err, treesync.ErrClosed) {
		t.Fatalf("the removed container's watcher: %v, want ErrClosed", err)
	}
	if _, err := other.Scan(); err != nil {
		t.Fatalf("another container's watcher: %v", err)
	}
	s.carryWatchers().Close()
	if _, err := other.Scan(); !errors.Is(err, treesync.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
