package treesync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// snapshot describes a directory on disk (through the plain os package,
// independently of Scan): every path with its type, permission bits,
// size, mtime, link target and content hash. Directory mtimes are
// included when withDirTimes is set (to check that nothing outside a root
// changed at all).
func snapshot(t testing.TB, dir string, withDirTimes bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		case fi.IsDir():
			s := fmt.Sprintf("dir %o", fi.Mode()&modeBits)
			if withDirTimes {
				s += fmt.Sprintf(" %d", fi.ModTime().UnixNano())
			}
			out[rel] = s
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %o %d %d %x", fi.Mode()&modeBits, fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q vs %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: missing vs %q", k, v))
		}
	}
	sort.Strings(d)
	return d
}

func openRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// carry makes to equal from as the shim and agent do: the receiver scans
// and sends its manifest, the sender answers with a delta, the receiver
// applies it. It returns the bytes of both streams.
func carry(t testing.TB, from, to string) (manifest int64, st Stats) {
	t.Helper()
	fr, tr := openRoot(t, from), openRoot(t, to)
	m, err := Scan(tr)
	if err != nil {
		t.Fatal(err)
	}
	var mb bytes.Buffer
	if err := WriteManifest(&mb, m); err != nil {
		t.Fatal(err)
	}
	manifest = int64(mb.Len())
	m2, err := ReadManifest(&mb)
	if err != nil {
		t.Fatal(err)
	}
	var db bytes.Buffer
	sent, err := Send(context.Background(), &db, fr, m2)
	if err != nil {
		t.Fatal(err)
	}
	if sent.Wire != int64(db.Len()) {
		t.Fatalf("Send counted %d bytes, wrote %d", sent.Wire, db.Len())
	}
	got, err := Apply(context.Background(), &db, tr)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got.Files != sent.Files || got.Deleted != sent.Deleted || got.Content != sent.Content {
		t.Fatalf("applied %+v, sent %+v", got, sent)
	}
	return manifest, sent
}

// tree mutates one side of a bind at random.
type tree struct {
	rng *rand.Rand
	dir string
	now time.Time
}

func (tr *tree) all(filter func(fs.FileInfo) bool) []string {
	var ps []string
	_ = filepath.WalkDir(tr.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == tr.dir {
			return nil
		}
		fi, err := os.Lstat(p)
		if err == nil && filter(fi) {
			rel, _ := filepath.Rel(tr.dir, p)
			ps = append(ps, rel)
		}
		return nil
	})
	sort.Strings(ps)
	return ps
}

func (tr *tree) pick(filter func(fs.FileInfo) bool) (string, bool) {
	ps := tr.all(filter)
	if len(ps) == 0 {
		return "", false
	}
	return ps[tr.rng.IntN(len(ps))], true
}

func isDir(fi fs.FileInfo) bool  { return fi.IsDir() }
func isFile(fi fs.FileInfo) bool { return fi.Mode().IsRegular() }
func any_(fs.FileInfo) bool      { return true }

func (tr *tree) name() string {
	names := []string{"a", "b", "c", "x.txt", "run.sh", ".hidden", "_temp", "sp ace", "ü", "GITHUB_OUTPUT"}
	return names[tr.rng.IntN(len(names))]
}

// newPath picks a fresh path in a random directory.
func (tr *tree) newPath() string {
	dir, ok := tr.pick(isDir)
	if !ok || tr.rng.IntN(3) == 0 {
		dir = ""
	}
	return filepath.Join(tr.dir, dir, tr.name()+fmt.Sprint(tr.rng.IntN(50)))
}

func (tr *tree) tick() time.Time {
	tr.now = tr.now.Add(time.Duration(1+tr.rng.IntN(1e6)) * time.Microsecond)
	return tr.now
}

func (tr *tree) fileMode() fs.FileMode {
	m := fs.FileMode(0o600 | tr.rng.IntN(0o200)) // owner rw, anything else
	if tr.rng.IntN(8) == 0 {
		m |= fs.ModeSetuid
	}
	return m
}

func (tr *tree) writeFile(p string) error {
	b := make([]byte, tr.rng.IntN(3)*tr.rng.IntN(40000))
	for i := range b {
		b[i] = byte(tr.rng.IntN(4)) // compressible, with zero runs
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(p, tr.fileMode()); err != nil {
		return err
	}
	n := tr.tick()
	return os.Chtimes(p, n, n)
}

// mutate applies n random changes.
func (tr *tree) mutate(t testing.TB, n int) {
	t.Helper()
	targets := []string{"a", "../outside", "../outside/secret", "/etc/passwd", "../../../", "x.txt0/../.."}
	for range n {
		var err error
		switch tr.rng.IntN(10) {
		case 0, 1: // new file
			err = tr.writeFile(tr.newPath())
		case 2: // new directory
			p := tr.newPath()
			if err = os.Mkdir(p, 0o700); err == nil {
				err = os.Chmod(p, fs.FileMode(0o700|tr.rng.IntN(0o100))|[]fs.FileMode{0, fs.ModeSetgid, fs.ModeSticky}[tr.rng.IntN(3)])
			}
		case 3: // new symlink, possibly pointing outside or nowhere
			err = os.Symlink(targets[tr.rng.IntN(len(targets))], tr.newPath())
		case 4: // rewrite a file
			if p, ok := tr.pick(isFile); ok {
				err = tr.writeFile(filepath.Join(tr.dir, p))
			}
		case 5: // chmod a file only
			if p, ok := tr.pick(isFile); ok {
				err = os.Chmod(filepath.Join(tr.dir, p), tr.fileMode())
			}
		case 6: // delete anything
			if p, ok := tr.pick(any_); ok {
				err = os.RemoveAll(filepath.Join(tr.dir, p))
			}
		case 7: // replace anything by a symlink
			if p, ok := tr.pick(any_); ok {
				full := filepath.Join(tr.dir, p)
				if err = os.RemoveAll(full); err == nil {
					err = os.Symlink(targets[tr.rng.IntN(len(targets))], full)
				}
			}
		case 8: // replace anything by a file
			if p, ok := tr.pick(any_); ok {
				full := filepath.Join(tr.dir, p)
				if err = os.RemoveAll(full); err == nil {
					err = tr.writeFile(full)
				}
			}
		case 9: // replace a file or link by a directory with a file in it
			if p, ok := tr.pick(func(fi fs.FileInfo) bool { return !fi.IsDir() }); ok {
				full := filepath.Join(tr.dir, p)
				if err = os.Remove(full); err == nil {
					if err = os.Mkdir(full, 0o755); err == nil {
						err = tr.writeFile(filepath.Join(full, "inner"))
					}
				}
			}
		}
		// A random change may not apply (a name taken by a directory, a
		// dangling link written through): that is not a failure.
		if err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EISDIR) && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// layout makes sides a and b and a folder "outside" beside them (with a
// file the random links point at), and returns a check that nothing
// outside the two sides changed.
func layout(t testing.TB) (a, b string, untouched func()) {
	base := t.TempDir()
	a, b = filepath.Join(base, "host"), filepath.Join(base, "workload")
	out := filepath.Join(base, "outside")
	for _, d := range []string{a, b, out, filepath.Join(out, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(out, "secret"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out, true)
	return a, b, func() {
		t.Helper()
		if d := diffSnapshots(before, snapshot(t, out, true)); len(d) > 0 {
			t.Fatalf("a path outside the bind changed: %v", d)
		}
		ents, _ := os.ReadDir(base)
		if len(ents) != 3 {
			t.Fatalf("the folder holding the binds has %d entries, want 3", len(ents))
		}
	}
}

func requireEqual(t testing.TB, a, b string) {
	t.Helper()
	if d := diffSnapshots(snapshot(t, a, false), snapshot(t, b, false)); len(d) > 0 {
		t.Fatalf("sides differ after a carry:\n%s", strings.Join(d, "\n"))
	}
}

// TestCarryProperty: random trees of files, links and modes, changed at
// random on both sides between rounds and carried in alternating
// directions (host to workload before an exec, back after it), always end
// equal, leave nothing outside the bind changed, and a second carry with
// no change in between sends nothing.
func TestCarryProperty(t *testing.T) {
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a, b, untouched := layout(t)
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			host := &tree{rng: rand.New(rand.NewPCG(seed, 1)), dir: a, now: start}
			work := &tree{rng: rand.New(rand.NewPCG(seed, 2)), dir: b, now: start.Add(time.Hour)}
			host.mutate(t, 30)
			work.mutate(t, 10) // the workload's side starts out different too
			for round := range 8 {
				from, to := host, work
				if round%2 == 1 {
					from, to = work, host
				}
				from.mutate(t, 1+from.rng.IntN(8))
				to.mutate(t, to.rng.IntN(3)) // the receiver changed too; the sender wins
				carry(t, from.dir, to.dir)
				requireEqual(t, a, b)
				if _, st := carry(t, from.dir, to.dir); st.Files+st.Dirs+st.Links+st.Meta+st.Deleted != 0 {
					t.Fatalf("round %d: a carry with nothing changed sent %+v", round, st)
				}
			}
			untouched()
		})
	}
}

// TestCarryKeepsKinds: permissions (with setuid, setgid, sticky), link
// targets (dangling, absolute, climbing out) and mtimes arrive as they
// were, links stay links, and a deleted directory goes with its content.
func TestCarryKeepsKinds(t *testing.T) {
	a, b, untouched := layout(t)
	mk := func(p string, mode fs.FileMode, body string) {
		full := filepath.Join(a, p)
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(a, "_temp", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(a, "_temp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	mk("_temp/x.sh", 0o755, "echo hi\n")
	mk("suid", 0o4711, "#!")
	mk("_temp/deep/ro", 0o400, "read only")
	for name, target := range map[string]string{"abs": "/etc/passwd", "up": "../outside/secret", "dangling": "nowhere", "rel": "_temp/x.sh"} {
		if err := os.Symlink(target, filepath.Join(a, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(a, "_temp", "deep"), 0o500); err != nil {
		t.Fatal(err)
	}
	_, st := carry(t, a, b)
	requireEqual(t, a, b)
	if st.Links != 4 || st.Files != 3 || st.Dirs != 2 {
		t.Fatalf("carried %+v", st)
	}
	if fi, err := os.Lstat(filepath.Join(b, "up")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("up is not a link on the other side: %v %v", fi, err)
	}
	// Changes come back: the workload writes an output file, removes a
	// directory and chmods a file.
	if err := os.Chmod(filepath.Join(b, "_temp", "deep"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(b, "_temp", "deep")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "_temp", "out"), []byte("result=42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "suid"), 0o2750); err != nil {
		t.Fatal(err)
	}
	_, st = carry(t, b, a)
	requireEqual(t, a, b)
	if st.Deleted != 1 || st.Files != 1 || st.Meta != 1 {
		t.Fatalf("carried back %+v, want one deletion, one file, one chmod", st)
	}
	if got, _ := os.ReadFile(filepath.Join(a, "_temp", "out")); string(got) != "result=42\n" {
		t.Fatalf("output file on the host: %q", got)
	}
	untouched()
}

// carryBase carries from one side to the other against base, the last
// state both sides agreed on, as the shim does from its second carry on,
// and advances base; with a nil base it is a first carry against the
// receiver's manifest, which becomes the base.
func carryBase(t testing.TB, from, to string, base Manifest, push bool) Manifest {
	t.Helper()
	fr, tr := openRoot(t, from), openRoot(t, to)
	if base == nil {
		var err error
		if base, err = Scan(tr); err != nil {
			t.Fatal(err)
		}
	}
	var db bytes.Buffer
	recv, err := Scan(tr)
	if err != nil {
		t.Fatal(err)
	}
	if push {
		// The host sends, tracking.
		if _, err := SendTracked(context.Background(), &db, fr, recv, base, base); err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(context.Background(), &db, tr); err != nil {
			t.Fatalf("apply: %v", err)
		}
		return base
	}
	// The workload sends against the base the host gave it; the host
	// applies, tracking.
	if _, err := SendTracked(context.Background(), &db, fr, recv, base, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyTracked(context.Background(), &db, tr, base); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return base
}

// TestCarryThreeWay: carrying against the last agreed state moves only
// what changed on the sending side: both sides change between carries
// (as a host writes the next script while a workload's background
// process writes output), a push then a pull leave both sides equal with
// neither side's changes lost unless the same path changed on both (the
// pushing host wins), and nothing outside the bind changes.
func TestCarryThreeWay(t *testing.T) {
	for seed := range uint64(25) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a, b, untouched := layout(t)
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			host := &tree{rng: rand.New(rand.NewPCG(seed, 3)), dir: a, now: start}
			work := &tree{rng: rand.New(rand.NewPCG(seed, 4)), dir: b, now: start.Add(time.Hour)}
			host.mutate(t, 30)
			base := carryBase(t, a, b, nil, true)
			requireEqual(t, a, b)
			for round := range 8 {
				host.mutate(t, 1+host.rng.IntN(6))
				work.mutate(t, 1+work.rng.IntN(6))
				base = carryBase(t, a, b, base, true)
				base = carryBase(t, b, a, base, false)
				requireEqual(t, a, b)
				if d := diffManifests(t, base, a); d != "" {
					t.Fatalf("round %d: the base no longer describes the agreed state: %s", round, d)
				}
			}
			untouched()
		})
	}
}

// TestCarryThreeWayKeepsBothSides: a file only the workload wrote and a
// file only the host wrote both survive a push and a pull; a deletion on
// either side is carried.
func TestCarryThreeWayKeepsBothSides(t *testing.T) {
	a, b, untouched := layout(t)
	for _, p := range []string{"keep", "host-deletes", "work-deletes"} {
		if err := os.WriteFile(filepath.Join(a, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := carryBase(t, a, b, nil, true)
	if err := os.WriteFile(filepath.Join(b, "late.txt"), []byte("late"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "step2.sh"), []byte("echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a, "host-deletes")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b, "work-deletes")); err != nil {
		t.Fatal(err)
	}
	base = carryBase(t, a, b, base, true)
	if _, err := os.Stat(filepath.Join(b, "late.txt")); err != nil {
		t.Fatalf("the push removed the workload's own new file: %v", err)
	}
	carryBase(t, b, a, base, false)
	requireEqual(t, a, b)
	for p, want := range map[string]bool{"keep": true, "late.txt": true, "step2.sh": true, "host-deletes": false, "work-deletes": false} {
		if _, err := os.Stat(filepath.Join(a, p)); (err == nil) != want {
			t.Fatalf("%s on the host: %v, want present=%v", p, err, want)
		}
	}
	untouched()
}

func diffManifests(t testing.TB, base Manifest, dir string) string {
	m, err := Scan(openRoot(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var d []string
	for p, e := range m {
		if b, ok := base[p]; !ok || (e.Type == Dir && b.Type == Dir) == false && b != e {
			d = append(d, fmt.Sprintf("%s: %+v vs %+v", p, b, e))
		}
	}
	for p := range base {
		if _, ok := m[p]; !ok {
			d = append(d, p+": only in base")
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}
