package records

import (
	"context"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/statestore"
	"github.com/sockerless/sockerless/statestore/memory"
)

func TestNormalizeRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alpine", "alpine:latest"},
		{"alpine:3.20", "alpine:3.20"},
		{"docker.io/library/alpine:3", "alpine:3"},
		{"ghcr.io/org/app", "ghcr.io/org/app:latest"},
		{"localhost:5000/x:y", "localhost:5000/x:y"},
	}
	for _, tc := range tests {
		got, err := NormalizeRef(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := NormalizeRef("Alpine"); !errdefs.IsInvalidParameter(err) {
		t.Errorf("uppercase repository: %v, want 400", err)
	}
}

func TestImageResolution(t *testing.T) {
	ctx := context.Background()
	st := New(memory.New())
	a := &Image{ID: "sha256:aaaa1111" + "00000000000000000000000000000000000000000000000000000000", RepoDigests: []string{"alpine@sha256:dddd"}}
	b := &Image{ID: "sha256:aaaa2222" + "00000000000000000000000000000000000000000000000000000000"}
	for _, img := range []*Image{a, b} {
		if err := st.PutImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetTag(ctx, "alpine", a); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTag(ctx, "docker.io/library/busybox:1", b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref    string
		want   string // image id; "" for not found
		status int    // error status when want is ""
	}{
		{"alpine", a.ID, 0},
		{"alpine:latest", a.ID, 0},
		{"docker.io/library/alpine", a.ID, 0},
		{"busybox:1", b.ID, 0},
		{a.ID, a.ID, 0},
		{a.ID[7:19], a.ID, 0},
		{"sha256:aaaa2", b.ID, 0},
		{"registry.example/mirror/alpine@sha256:dddd", a.ID, 0},
		{"aaaa", "", 400}, // ambiguous prefix
		{"busybox", "", 404},
		{"alpine@sha256:eeee", "", 404},
	}
	for _, tc := range tests {
		img, err := st.Image(ctx, tc.ref)
		if tc.want != "" {
			if err != nil || img.ID != tc.want {
				t.Errorf("Image(%q) = %v, %v; want %s", tc.ref, img, err, tc.want)
			}
			continue
		}
		if errdefs.HTTPStatus(err) != tc.status {
			t.Errorf("Image(%q): %v, want status %d", tc.ref, err, tc.status)
		}
	}
	// Moving a tag leaves the old image untagged.
	if err := st.SetTag(ctx, "alpine", b); err != nil {
		t.Fatal(err)
	}
	if tags, _ := st.TagsOf(ctx, a.ID); len(tags) != 0 {
		t.Errorf("tags of a after the move: %v", tags)
	}
}

// TestTagCarriesItsImage: resolving a tag reads the tag alone, and the
// copy it carries follows the image record when PutImage replaces it.
func TestTagCarriesItsImage(t *testing.T) {
	ctx := context.Background()
	s := countingStore{Store: memory.New()}
	st := New(&s)
	img := &Image{ID: "sha256:" + strings.Repeat("c", 64), Source: "pull"}
	if err := st.PutImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTag(ctx, "web:1", img); err != nil {
		t.Fatal(err)
	}
	withLayers := *img
	withLayers.Layers = []Layer{{Digest: "sha256:l1", DiffID: "sha256:d1", Size: 3}}
	if err := st.PutImage(ctx, &withLayers); err != nil {
		t.Fatal(err)
	}
	s.gets = 0
	got, err := st.Image(ctx, "web:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 1 || got.ID != img.ID {
		t.Fatalf("Image(web:1) = %+v, want the replaced record with its layer", got)
	}
	if s.gets != 1 {
		t.Fatalf("resolving a tag took %d reads, want 1", s.gets)
	}
}

// countingStore counts Get calls.
type countingStore struct {
	statestore.Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, kind, id string) (statestore.Record, error) {
	c.gets++
	return c.Store.Get(ctx, kind, id)
}
