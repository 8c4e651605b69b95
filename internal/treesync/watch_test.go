package treesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// reshape makes n random changes that move things around: renames of
// files and directories (into other directories, over other entries),
// directory modes, hard links made inside the tree and written through
// their other name (the round's last change, as the link must still be
// there at the scan: see Watcher), writes through links from outside the tree (made
// before the watcher started: see Watcher on links made after).
func (tr *tree) reshape(t testing.TB, outside string, n int, links bool) {
	t.Helper()
	kinds := 4
	if links {
		kinds = 6
	}
	for range n {
		var err error
		switch tr.rng.IntN(kinds) {
		case 0, 1: // move anything somewhere else in the tree
			p, ok := tr.pick(any_)
			if !ok {
				continue
			}
			to := tr.newPath()
			rel, _ := filepath.Rel(tr.dir, to)
			if rel == p || strings.HasPrefix(rel, p+string(filepath.Separator)) {
				continue // into itself
			}
			err = os.Rename(filepath.Join(tr.dir, p), to)
			if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrInvalid) || isErrno(err, "directory not empty", "not a directory", "is a directory") {
				err = nil
			}
		case 2: // move a file over another file
			a, ok1 := tr.pick(isFile)
			b, ok2 := tr.pick(isFile)
			if ok1 && ok2 && a != b {
				err = os.Rename(filepath.Join(tr.dir, a), filepath.Join(tr.dir, b))
			}
		case 3: // directory mode
			if p, ok := tr.pick(isDir); ok {
				err = os.Chmod(filepath.Join(tr.dir, p), fs.FileMode(0o700|tr.rng.IntN(0o100)))
			}
		case 4: // a second name in the tree, then a write through it
			if p, ok := tr.pick(isFile); ok {
				q := tr.newPath()
				if err = os.Link(filepath.Join(tr.dir, p), q); err == nil {
					if err = appendTo(q, tr.tick()); err == nil {
						return // the link stays until the scan (see Watcher)
					}
				} else if errors.Is(err, fs.ErrExist) {
					err = nil
				}
			}
		case 5: // a write through a name outside the tree (made before the watcher started)
			ents, _ := os.ReadDir(outside)
			if len(ents) > 0 {
				err = appendTo(filepath.Join(outside, ents[tr.rng.IntN(len(ents))].Name()), tr.tick())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func isErrno(err error, msgs ...string) bool {
	for _, m := range msgs {
		if err != nil && strings.Contains(err.Error(), m) {
			return true
		}
	}
	return false
}

func appendTo(p string, mtime time.Time) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("more\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(p, mtime, mtime)
	}
	return err
}

func diffManifest(a, b Manifest) []string {
	var d []string
	for p, e := range a {
		if f, ok := b[p]; !ok || f != e {
			d = append(d, fmt.Sprintf("%s: watcher %+v, scan %+v (present %v)", p, e, f, ok))
		}
	}
	for p, e := range b {
		if _, ok := a[p]; !ok {
			d = append(d, fmt.Sprintf("%s: missing from the watcher, scan %+v", p, e))
		}
	}
	return d
}

// TestWatcherMatchesScan: after every round of random changes (files,
// directories, links pointing anywhere, modes, renames of files and
// directories, rm -r of subtrees, an entry replaced by another kind, hard
// links inside the tree, writes through links from outside it), the watcher's manifest is the
// one Scan returns, and the delta SendWatched writes is the one
// SendTracked writes. On Linux the scans after the first are incremental,
// and without hard links none falls back to a full walk.
func TestWatcherMatchesScan(t *testing.T) {
	for seed := range uint64(16) {
		links := seed%2 == 0
		t.Run(fmt.Sprintf("%d/links=%v", seed, links), func(t *testing.T) {
			a, _, untouched := layout(t)
			outside := filepath.Join(filepath.Dir(a), "workload")
			tr := &tree{rng: rand.New(rand.NewPCG(seed, 7)), dir: a, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			tr.mutate(t, 40)
			for i, p := range tr.all(isFile) {
				if links && i%3 == 0 {
					if err := os.Link(filepath.Join(a, p), filepath.Join(outside, fmt.Sprintf("link%d", i))); err != nil {
						t.Fatal(err)
					}
				}
			}
			root, err := os.OpenRoot(a)
			if err != nil {
				t.Fatal(err)
			}
			wt, err := NewWatcher(root)
			if err != nil {
				t.Fatal(err)
			}
			defer wt.Close()
			check := openRoot(t, a)
			var prev Manifest
			for round := range 25 {
				if round > 0 {
					if tr.rng.IntN(2) == 0 {
						tr.mutate(t, 1+tr.rng.IntN(6))
					} else {
						tr.reshape(t, outside, 1+tr.rng.IntN(6), links)
					}
				}
				got, err := wt.Scan()
				if err != nil {
					t.Fatal(err)
				}
				want, err := Scan(check)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffManifest(got, want); len(d) > 0 {
					t.Fatalf("round %d (%+v): the watcher's manifest is not Scan's:\n%s", round, wt.Stats(), strings.Join(d, "\n"))
				}
				var dw, ds bytes.Buffer
				if _, err := SendWatched(context.Background(), &dw, wt, prev, nil, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := SendTracked(context.Background(), &ds, check, prev, nil, nil); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dw.Bytes(), ds.Bytes()) {
					t.Fatalf("round %d: SendWatched wrote %d bytes, SendTracked %d, not the same", round, dw.Len(), ds.Len())
				}
				prev = want
			}
			st := wt.Stats()
			t.Logf("%+v", st)
			if runtime.GOOS == "linux" && (st.Unwatched != "" || st.Incremental == 0 || (!links && st.Fallbacks != 0)) {
				t.Fatalf("scans were not incremental: %+v", st)
			}
			// The outside folder holds only links made on purpose.
			ents, _ := os.ReadDir(outside)
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), "link") {
					t.Fatalf("unexpected %s outside the tree", e.Name())
				}
			}
			_ = untouched // the links made outside change that folder on purpose
		})
	}
}
