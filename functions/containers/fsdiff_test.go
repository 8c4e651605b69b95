package containers

import (
	"archive/tar"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

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
