package rootfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// TestOpenRoot: a container directory opens as an os.Root of the mount
// holding it, with links resolved inside the container (an absolute link
// to /etc is the container's /etc, a link climbing out stays in); a
// missing directory is ErrNotExist and a file mount is refused.
func TestOpenRoot(t *testing.T) {
	tmp, root, vol := layout(t)
	file := filepath.Join(tmp, "single")
	write(t, file, "x")
	if err := os.Symlink("/etc", filepath.Join(root, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside", filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(vol, "in-vol"), "v")
	f, err := rootfs.New(root, []rootfs.Mount{{Target: "/data", Source: vol}, {Target: "/one", Source: file}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct{ dir, has string }{{"/etc", "os-release"}, {"/abs", "os-release"}, {"/data", "in-vol"}} {
		r, err := f.OpenRoot(tc.dir)
		if err != nil {
			t.Fatalf("OpenRoot(%s): %v", tc.dir, err)
		}
		if _, err := r.Stat(tc.has); err != nil {
			t.Fatalf("OpenRoot(%s) lacks %s: %v", tc.dir, tc.has, err)
		}
		r.Close()
	}
	// "up" climbs out of the root lexically; resolved inside it, it is
	// /outside of the container, which does not exist.
	if _, err := f.OpenRoot("/up"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenRoot(/up) = %v, want not exist", err)
	}
	if _, err := f.OpenRoot("/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenRoot(/missing) = %v", err)
	}
	if _, err := f.OpenRoot("/one"); err == nil {
		t.Fatal("OpenRoot of a file mount succeeded")
	}
}
