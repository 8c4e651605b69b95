package treesync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzApply feeds arbitrary bytes to the delta decoder and applier under a
// root whose sibling folder must never change. Seeds are valid deltas from
// Send and the hostile ones of TestApplyRefusesHostileDeltas; the corpus
// found by fuzzing is kept in testdata/fuzz/FuzzApply.
func FuzzApply(f *testing.F) {
	f.Add(newDelta().dir("d", 0o755).file("d/x.sh", "echo hi\n").link("l", "d/x.sh").meta("d/x.sh").del("gone").bytes())
	f.Add(newDelta().link("l", "../outside").file("l/pwn", "x").bytes())
	f.Add(newDelta().link("out2", "/").dir("out2/tmp", 0o777).bytes())
	f.Add(newDelta().file("out/secret", "x").del("out").bytes())
	f.Add(newDelta().dir("a", 0o500).file("a/b", "y").bytes())
	func() {
		src := f.TempDir()
		_ = os.MkdirAll(filepath.Join(src, "x", "y"), 0o755)
		_ = os.WriteFile(filepath.Join(src, "x", "y", "z"), []byte("hello world"), 0o644)
		_ = os.WriteFile(filepath.Join(src, "zeros"), make([]byte, MaxChunk+100), 0o600)
		_ = os.Symlink("../../etc", filepath.Join(src, "x", "up"))
		r, err := os.OpenRoot(src)
		if err != nil {
			f.Fatal(err)
		}
		defer r.Close()
		var b bytes.Buffer
		if _, err := Send(context.Background(), &b, r, Manifest{"old": {Path: "old", Type: File}}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, root, untouched := layout(t)
		if err := os.Symlink("../outside", filepath.Join(root, "out")); err != nil {
			t.Fatal(err)
		}
		_, err := Apply(context.Background(), bytes.NewReader(data), openRoot(t, root))
		if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsafe) && !errors.Is(err, os.ErrExist) {
			// Any other failure is from the filesystem (a name too long
			// for it, a chunk too large for the disk); it must still
			// leave everything outside the root alone.
			t.Logf("apply: %v", err)
		}
		untouched()
	})
}

// FuzzReadManifest: arbitrary bytes either decode to a manifest of valid
// entries that encodes back to an equal manifest, or fail with ErrFormat
// or ErrUnsafe; never a panic or an unbounded allocation.
func FuzzReadManifest(f *testing.F) {
	var b bytes.Buffer
	_ = WriteManifest(&b, Manifest{
		"a":     {Path: "a", Type: Dir, Mode: 0o755},
		"a/f":   {Path: "a/f", Type: File, Mode: 0o4755, Size: 12, Mtime: -5},
		"a/lnk": {Path: "a/lnk", Type: Symlink, Target: "../../x"},
	})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadManifest(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsafe) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for p, e := range m {
			if p != e.Path || !validPath(p) {
				t.Fatalf("invalid entry %q: %+v", p, e)
			}
		}
		var again bytes.Buffer
		if err := WriteManifest(&again, m); err != nil {
			t.Fatal(err)
		}
		m2, err := ReadManifest(&again)
		if err != nil || len(m2) != len(m) {
			t.Fatalf("round trip: %v, %d vs %d entries", err, len(m2), len(m))
		}
		for p, e := range m {
			if m2[p] != e {
				t.Fatalf("round trip changed %q: %+v vs %+v", p, e, m2[p])
			}
		}
	})
}
