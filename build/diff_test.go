package build

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// TestDiffLayer: what a step changes becomes a layer that, applied with
// rootfs.ExtractLayer on top of the "before" tree, reproduces the "after"
// tree — additions, modifications, removals (whiteouts), a removed
// directory as one whiteout, type changes and symlinks — and the
// per-container files are never part of it.
func TestDiffLayer(t *testing.T) {
	type op func(t *testing.T, root string)
	write := func(p, body string) op {
		return func(t *testing.T, root string) {
			os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
			if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(p string) op {
		return func(t *testing.T, root string) {
			if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	symlink := func(target, p string) op {
		return func(t *testing.T, root string) {
			if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	chmod := func(p string, m os.FileMode) op {
		return func(t *testing.T, root string) {
			if err := os.Chmod(filepath.Join(root, p), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := []op{write("keep.txt", "keep"), write("mod.txt", "old"), write("gone.txt", "x"), write("dir/a", "a"), write("dir/sub/b", "b"), write("file2dir", "f"), write("etc/hosts", "h")}
	tests := []struct {
		name    string
		step    []op
		entries []string // names in the layer, sorted
	}{
		{"nothing", nil, nil},
		{"add", []op{write("new/deep/file.txt", "n")}, []string{"new/", "new/deep/", "new/deep/file.txt"}},
		{"modify", []op{write("mod.txt", "new content")}, []string{"mod.txt"}},
		{"chmod", []op{chmod("keep.txt", 0o755)}, []string{"keep.txt"}},
		{"remove file", []op{remove("gone.txt")}, []string{".wh.gone.txt"}},
		{"remove dir is one whiteout", []op{remove("dir")}, []string{".wh.dir"}},
		{"file becomes dir", []op{remove("file2dir"), write("file2dir/x", "x")}, []string{"file2dir/", "file2dir/x"}},
		{"symlink", []op{symlink("/etc/passwd", "link")}, []string{"link"}},
		{"hosts never committed", []op{write("etc/hosts", "changed"), write("etc/resolv.conf", "r")}, []string{"etc/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, o := range base {
				o(t, root)
			}
			before, err := takeSnapshot(root)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
			for _, o := range tt.step {
				o(t, root)
			}
			after, err := takeSnapshot(root)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := writeLayer(&buf, root, diffSnapshots(before, after)); err != nil {
				t.Fatal(err)
			}
			var got []string
			tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, h.Name)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.entries) {
				t.Fatalf("layer entries = %q, want %q", got, tt.entries)
			}
			// Replaying base + layer gives the after tree.
			replay := t.TempDir()
			for _, o := range base {
				o(t, replay)
			}
			f, err := rootfs.New(replay, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := rootfs.ExtractLayer(f, bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			if g, w := tree(t, replay), tree(t, root); !reflect.DeepEqual(without(g, "etc/hosts", "etc/resolv.conf"), without(w, "etc/hosts", "etc/resolv.conf")) {
				t.Fatalf("replayed tree = %v, want %v", g, w)
			}
		})
	}
}

// tree lists a directory: path → kind, mode and content or link target.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link " + l
		case fi.IsDir():
			out[rel] = "dir"
		default:
			b, _ := os.ReadFile(p)
			out[rel] = fi.Mode().Perm().String() + " " + string(b)
		}
		return nil
	})
	return out
}

func without(m map[string]string, keys ...string) map[string]string {
	for _, k := range keys {
		delete(m, k)
	}
	return m
}
