package rootfs

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtractLayer applies arbitrary bytes as an image layer to a root
// that sits next to a host "outside" directory: whatever the layer holds
// (climbing names, absolute or relative symlinks out, links through
// earlier symlinks, whiteouts of ".."), nothing outside the root may be
// created, changed or removed. Seeds are in testdata/fuzz.
func FuzzExtractLayer(f *testing.F) {
	seed := func(ents ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range ents {
			if h.Typeflag == tar.TypeReg {
				h.Size = 1
			}
			tw.WriteHeader(h)
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte("x"))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	f.Add(seed(&tar.Header{Name: "a/b", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(seed(&tar.Header{Name: "../outside/planted", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(seed(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: "../outside"}, &tar.Header{Name: "esc/planted", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(seed(&tar.Header{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/"}, &tar.Header{Name: "abs/../../outside/.wh.keep", Typeflag: tar.TypeReg}))
	f.Add(seed(&tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../outside/keep"}))
	f.Add(seed(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg}, &tar.Header{Name: ".wh..", Typeflag: tar.TypeReg}))
	f.Fuzz(func(t *testing.T, layer []byte) {
		top := t.TempDir()
		root, outside := filepath.Join(top, "root"), filepath.Join(top, "outside")
		os.Mkdir(root, 0o755)
		os.Mkdir(outside, 0o755)
		if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		fs, err := New(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = ExtractLayer(fs, bytes.NewReader(layer))
		fs.Close()
		ents, err := os.ReadDir(top)
		if err != nil || len(ents) != 2 {
			t.Fatalf("entries next to the root changed: %v %v", ents, err)
		}
		out, err := os.ReadDir(outside)
		if err != nil || len(out) != 1 || out[0].Name() != "keep" {
			t.Fatalf("outside directory changed: %v %v", out, err)
		}
		if b, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(b) != "keep" {
			t.Fatalf("outside file changed: %q %v", b, err)
		}
	})
}
