package treesync

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// delta builds a delta stream record by record, as a hostile sender could.
type delta struct {
	buf bytes.Buffer
	e   *encoder
}

func newDelta() *delta {
	d := &delta{}
	d.e = newEncoder(&d.buf)
	d.e.raw([]byte(deltaMagic))
	return d
}

func (d *delta) dir(p string, mode fs.FileMode) *delta {
	d.e.byte(recDir)
	d.e.str(p)
	d.e.uvarint(uint64(mode))
	return d
}

func (d *delta) link(p, target string) *delta {
	d.e.byte(recLink)
	d.e.str(p)
	d.e.str(target)
	return d
}

func (d *delta) file(p string, body string) *delta {
	d.e.byte(recFile)
	d.e.str(p)
	d.e.uvarint(0o644)
	d.e.varint(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	if body != "" {
		d.e.uvarint(uint64(len(body)) << 1)
		d.e.raw([]byte(body))
	}
	d.e.uvarint(0)
	return d
}

func (d *delta) meta(p string) *delta {
	d.e.byte(recMeta)
	d.e.str(p)
	d.e.uvarint(0o777)
	d.e.varint(0)
	return d
}

func (d *delta) del(p string) *delta {
	d.e.byte(recDelete)
	d.e.str(p)
	return d
}

func (d *delta) bytes() []byte {
	d.e.byte(recEnd)
	if err := d.e.flush(); err != nil {
		panic(err)
	}
	return d.buf.Bytes()
}

// TestApplyRefusesHostileDeltas: a delta cannot name a path outside the
// root, cannot write, chmod or delete through a symlink (its own or one
// already there, pointing outside or inside), and malformed records are
// refused; nothing outside the root changes.
func TestApplyRefusesHostileDeltas(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delta []byte
		want  error
	}{
		{"dot-dot", newDelta().file("../outside/pwn", "x").bytes(), ErrUnsafe},
		{"dot-dot inside", newDelta().file("a/../../outside/pwn", "x").bytes(), ErrUnsafe},
		{"absolute", newDelta().file("/tmp/pwn", "x").bytes(), ErrUnsafe},
		{"root itself", newDelta().dir(".", 0o755).bytes(), ErrUnsafe},
		{"empty path", newDelta().file("", "x").bytes(), ErrUnsafe},
		{"trailing slash", newDelta().file("a/", "x").bytes(), ErrUnsafe},
		{"backslash", newDelta().file(`..\outside`, "x").bytes(), ErrUnsafe},
		{"NUL", newDelta().file("a\x00b", "x").bytes(), ErrUnsafe},
		{"link then write through, outside", newDelta().link("l", "../outside").file("l/pwn", "x").bytes(), ErrUnsafe},
		{"link then write through, absolute", newDelta().link("l", "/").file("l/tmp/pwn", "x").bytes(), ErrUnsafe},
		{"link then write through, inside", newDelta().dir("d", 0o755).link("l", "d").file("l/x", "x").bytes(), ErrUnsafe},
		{"link then mkdir through", newDelta().link("l", "../outside").dir("l/sub2", 0o777).bytes(), ErrUnsafe},
		{"link then link through", newDelta().link("l", "../outside").link("l/secret", "x").bytes(), ErrUnsafe},
		{"link then delete through", newDelta().link("l", "../outside").del("l/secret").bytes(), ErrUnsafe},
		{"existing link, write through", newDelta().file("out/secret", "x").bytes(), ErrUnsafe},
		{"existing link, delete through", newDelta().del("out/secret").bytes(), ErrUnsafe},
		{"existing link, chmod", newDelta().meta("victim").bytes(), ErrUnsafe},
		{"file as parent", newDelta().file("f", "x").file("f/x", "y").bytes(), ErrUnsafe},
		{"empty link target", newDelta().link("l", "").bytes(), ErrFormat},
		{"chunk too large", func() []byte {
			d := newDelta()
			d.e.byte(recFile)
			d.e.str("big")
			d.e.uvarint(0o644)
			d.e.varint(0)
			d.e.uvarint(uint64(MaxChunk+1) << 1)
			return d.bytes()
		}(), ErrFormat},
		{"mode with type bits", newDelta().dir("d", fs.ModeSymlink|0o755).bytes(), ErrFormat},
		{"path too long", newDelta().file(string(bytes.Repeat([]byte("a"), MaxPath+1)), "x").bytes(), ErrFormat},
		{"unknown record", append(newDelta().bytes()[:len(deltaMagic)], 'z'), ErrFormat},
		{"truncated", newDelta().file("f", "hello").bytes()[:len(deltaMagic)+6], ErrFormat},
		{"no end", newDelta().file("f", "hello").buf.Bytes(), ErrFormat},
		{"manifest as delta", func() []byte {
			var b bytes.Buffer
			_ = WriteManifest(&b, Manifest{})
			return b.Bytes()
		}(), ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, root, untouched := layout(t)
			// What the workload already has: a link to the outside folder
			// and a link to a file outside.
			if err := os.Symlink("../outside", filepath.Join(root, "out")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../outside/secret", filepath.Join(root, "victim")); err != nil {
				t.Fatal(err)
			}
			_, err := Apply(context.Background(), bytes.NewReader(tc.delta), openRoot(t, root))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply = %v, want %v", err, tc.want)
			}
			untouched()
			if ents, _ := filepath.Glob(filepath.Join(root, ".treesync-*")); len(ents) > 0 {
				t.Fatalf("temporary files left: %v", ents)
			}
		})
	}
}

// TestApplyReplacesLinksNotTargets: records that land on an existing
// symlink replace the link (file, directory, deletion) and leave its
// target alone.
func TestApplyReplacesLinksNotTargets(t *testing.T) {
	_, root, untouched := layout(t)
	for _, l := range []string{"f", "d", "gone"} {
		if err := os.Symlink("../outside/secret", filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	d := newDelta().file("f", "mine").dir("d", 0o700).del("gone").bytes()
	if _, err := Apply(context.Background(), bytes.NewReader(d), openRoot(t, root)); err != nil {
		t.Fatal(err)
	}
	untouched()
	if b, err := os.ReadFile(filepath.Join(root, "f")); err != nil || string(b) != "mine" {
		t.Fatalf("f = %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("d = %v, %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("gone still there: %v", err)
	}
}

// TestCarryGiBBind: in a 1 GiB bind (a sparse image and a small tree),
// changing 1 MiB — a new file, or a 1 MiB region inside the image —
// carries about 1 MiB; the initial carry of the sparse image sends its
// holes as lengths and the copy stays sparse.
func TestCarryGiBBind(t *testing.T) {
	a, b, untouched := layout(t)
	img := filepath.Join(a, "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := range 200 {
		p := filepath.Join(a, "src", string(rune('a'+i%26)), "f"+string(rune('0'+i/26)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, st := carry(t, a, b)
	if st.Wire > 1<<20 {
		t.Fatalf("initial carry of a sparse 1 GiB bind sent %d bytes", st.Wire)
	}
	var sys syscall.Stat_t
	if err := syscall.Stat(filepath.Join(b, "disk.img"), &sys); err != nil {
		t.Fatal(err)
	}
	if sys.Size != 1<<30 || sys.Blocks*512 > 1<<20 {
		t.Fatalf("copied image: size %d, %d bytes allocated", sys.Size, sys.Blocks*512)
	}

	mib := make([]byte, 1<<20)
	for _, change := range []struct {
		name string
		do   func() error
	}{
		{"new 1 MiB file", func() error {
			_, _ = rand.Read(mib)
			return os.WriteFile(filepath.Join(a, "src", "new.bin"), mib, 0o644)
		}},
		{"1 MiB inside the image", func() error {
			_, _ = rand.Read(mib)
			f, err := os.OpenFile(img, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(mib, 300<<20)
			return err
		}},
	} {
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		manifest, st := carry(t, a, b)
		total := manifest + st.Wire
		t.Logf("%s: manifest %d B, delta %d B (content %d B)", change.name, manifest, st.Wire, st.Content)
		if st.Content != 1<<20 || total < 1<<20 || total > 1<<20+64<<10 {
			t.Fatalf("%s: carried %d bytes (content %d), want about 1 MiB", change.name, total, st.Content)
		}
	}
	requireEqual(t, a, b)
	untouched()
}
