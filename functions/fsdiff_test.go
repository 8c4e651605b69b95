package functions

import (
	"archive/tar"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/synthetic"
	"github.com/sockerless/sockerless/relay"
	"github.com/sockerless/sockerless/statestore/memory"
)

// bareProvider hides every optional ability of the provider it wraps.
type bareProvider struct{ providers.Provider }

// TestDiffExportNeedArchiver: a provider without providers.Archiver
// answers docker diff and docker export with 501 and a reason.
func TestDiffExportNeedArchiver(t *testing.T) {
	secret := []byte("test-secret")
	hub := relay.NewHub(secret)
	a, err := New(context.Background(), Config{
		Store: memory.New(), Secret: secret, RelayURL: "inproc:", Dialer: hub, PullTimeout: time.Second,
		NewProvider: func(r providers.Reporter) (providers.Provider, error) {
			return bareProvider{synthetic.New(synthetic.Options{Hub: hub, Reporter: r})}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(a, "POST", "/images/create?fromImage=alpine&tag=3.20", ""); code != 200 {
		t.Fatalf("pull: %d %s", code, body)
	}
	if code, body := do(a, "POST", "/containers/create?name=c1", `{"Image":"alpine:3.20","Cmd":["true"]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, p := range []string{"/containers/c1/changes", "/containers/c1/export"} {
		code, body := do(a, "GET", p, "")
		if code != 501 || !strings.Contains(body, "is not supported by the") {
			t.Errorf("GET %s: %d %s, want 501 with a reason", p, code, body)
		}
	}
	if code, _ := do(a, "GET", "/containers/nosuch/changes", ""); code != 404 {
		t.Errorf("changes of a missing container: %d, want 404", code)
	}
}

func TestFSChanges(t *testing.T) {
	file := func(size, mtime int64) fsEntry {
		return fsEntry{typ: tar.TypeReg, mode: 0o644, size: size, mtime: mtime}
	}
	dir := fsEntry{typ: tar.TypeDir, mode: 0o755}
	img := map[string]fsEntry{"/a": dir, "/a/f": file(1, 1), "/a/g": file(1, 1), "/d": dir, "/d/x": file(1, 1), "/etc": dir, "/etc/hosts": file(1, 1)}
	tests := []struct {
		name string
		now  map[string]fsEntry
		want string
	}{
		{"unchanged", map[string]fsEntry{"/a": dir, "/a/f": file(1, 1), "/a/g": file(1, 1), "/d": dir, "/d/x": file(1, 1), "/etc": dir, "/etc/hosts": file(9, 9)}, ""},
		{"skeleton added", map[string]fsEntry{"/a": dir, "/a/f": file(1, 1), "/a/g": file(1, 1), "/d": dir, "/d/x": file(1, 1), "/etc": dir, "/etc/hosts": file(1, 1), "/etc/hostname": file(1, 1), "/proc": dir}, ""},
		{"modified, added, deleted tree", map[string]fsEntry{"/a": dir, "/a/f": file(2, 1), "/a/g": file(1, 1), "/etc": dir, "/etc/hosts": file(1, 1), "/n": dir, "/n/m": file(1, 1)}, "C /a,C /a/f,D /d,A /n,A /n/m"},
		{"mode change", map[string]fsEntry{"/a": {typ: tar.TypeDir, mode: 0o700}, "/a/f": file(1, 1), "/a/g": file(1, 1), "/d": dir, "/d/x": file(1, 1), "/etc": dir, "/etc/hosts": file(1, 1)}, "C /a"},
		{"deleted file", map[string]fsEntry{"/a": dir, "/a/f": file(1, 1), "/d": dir, "/d/x": file(1, 1), "/etc": dir, "/etc/hosts": file(1, 1)}, "C /a,D /a/g"},
	}
	kind := map[container.ChangeType]string{container.ChangeModify: "C", container.ChangeAdd: "A", container.ChangeDelete: "D"}
	for _, tc := range tests {
		var got []string
		for _, c := range fsChanges(img, tc.now) {
			got = append(got, kind[c.Kind]+" "+c.Path)
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, g, tc.want)
		}
	}
}

func TestRenameLinks(t *testing.T) {
	hc := &container.HostConfig{Links: []string{"/a0:/old_name/db", "/b0:/old_name/b0"}}
	renameLinks(hc, "new_name")
	if strings.Join(hc.Links, ",") != "/a0:/new_name/db,/b0:/new_name/b0" {
		t.Fatalf("links %v", hc.Links)
	}
}
