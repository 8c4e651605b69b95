package treesync

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
)

// A Watcher keeps the manifest of a tree between carries, so a carry of a
// small change costs what the change costs instead of a walk of the whole
// tree. On Linux it watches every directory of the tree with inotify and,
// at each scan, re-examines only the entries named by the events queued
// since the last one (a directory created, moved in or replaced is walked
// whole); anything it cannot account for — a full event queue, a watch it
// could not add, the root moved or removed, a file with several links
// appearing, a directory seen at two paths, a filesystem whose changes
// inotify may not report (network and FUSE filesystems) — makes it walk
// the whole tree again, so its manifest is always what Scan would return.
// Elsewhere every scan is a full walk.
//
// inotify queues an event during the system call that makes the change,
// so a scan after a change always sees it: draining the queue at each
// scan is a barrier, with no goroutine reading in the background.
//
// What inotify does not report stays unseen until the next full walk:
// writes through a shared memory mapping that do not change a file's
// size or time, and changes made on another machine to a shared
// filesystem (which is why those filesystems are not watched). Files with
// more than one link are looked at again at every scan, since a write
// through another of their names (perhaps outside the tree) is reported
// there only.
//
// A Watcher is safe for concurrent use. It holds an inotify descriptor
// and the tree's os.Root until Close.
type Watcher struct {
	mu     sync.Mutex
	root   *os.Root
	fi     fs.FileInfo // the root's, to know the directory again
	m      Manifest    // nil until the first scan, and after a failed one
	order  []string    // m's paths in walk order; nil when to be rebuilt
	stats  WatchStats
	closed bool
	n      notifier
}

// WatchStats says how a Watcher's scans were made.
type WatchStats struct {
	// Full counts scans that walked the whole tree (the first, and every
	// fall back); Incremental those that looked only at what changed.
	Full, Incremental int
	// Examined counts the entries incremental scans looked at again.
	Examined int
	// Fallbacks counts full walks made because the watcher could not
	// account for a change (not the first walk), Reason the last cause;
	// Unwatched says why the tree is not watched at all (every scan is
	// then a full walk), empty when it is.
	Fallbacks int
	Reason    string
	Unwatched string
}

// ErrClosed is returned by a Watcher used after Close.
var ErrClosed = errors.New("treesync: watcher closed")

// NewWatcher returns a watcher of the tree under root, which it takes:
// Close closes it. Nothing is watched or walked before the first scan.
func NewWatcher(root *os.Root) (*Watcher, error) {
	fi, err := root.Stat(".")
	if err != nil {
		return nil, err
	}
	return &Watcher{root: root, fi: fi, n: newNotifier()}, nil
}

// Root returns the tree's root (valid until Close).
func (w *Watcher) Root() *os.Root { return w.root }

// Stats returns how the scans so far were made.
func (w *Watcher) Stats() WatchStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Scan returns the tree's manifest as Scan(root) would, now.
func (w *Watcher) Scan() (Manifest, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.refresh(); err != nil {
		return nil, err
	}
	return maps.Clone(w.m), nil
}

// WriteManifest writes the tree's manifest, as it is now, to out (as
// WriteManifest(out, Scan) would, without the copy, in walk order rather
// than path order: a reader takes either).
func (w *Watcher) WriteManifest(out io.Writer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.refresh(); err != nil {
		return err
	}
	return writeManifest(out, w.m, w.sorted())
}

// sorted returns w.m's paths in walk order, kept while no path comes or
// goes. w.mu is held.
func (w *Watcher) sorted() []string {
	if w.order == nil {
		w.order = slices.SortedFunc(maps.Keys(w.m), walkOrder)
	}
	return w.order
}

// SendWatched is SendTracked on the tree of wt, as it is now, without
// walking it.
func SendWatched(ctx context.Context, out io.Writer, wt *Watcher, recv, base, track Manifest) (Stats, error) {
	if base == nil {
		base = recv
	}
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if err := wt.refresh(); err != nil {
		return Stats{}, err
	}
	m, order := wt.m, wt.sorted()
	src := source{
		each: func(fn func(Entry) error) error {
			for _, p := range order {
				if err := fn(m[p]); err != nil {
					return err
				}
			}
			return nil
		},
		typeOf: func(p string) Type { return m[p].Type },
		dir:    func(p string) Entry { return m[p] },
	}
	return sendDelta(ctx, out, wt.root, src, recv, base, track)
}

// Close stops watching and closes the root. Later calls do nothing.
func (w *Watcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.n.close()
	w.m, w.order = nil, nil
	return w.root.Close()
}

// walkOrder compares paths in the order walk visits them: component by
// component, each directory's entries in name order, so a directory comes
// right before what it holds.
func walkOrder(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		switch {
		case ca == cb:
			continue
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		case ca < cb:
			return -1
		default:
			return 1
		}
	}
	return len(a) - len(b)
}

// Watchers keeps long-lived watchers by key (a carried bind), at most a
// fixed number at once, and closes them when told their binds are gone.
// Safe for concurrent use; the zero value is not usable (NewWatchers).
type Watchers struct {
	mu     sync.Mutex
	max    int
	m      map[string]*watchRef
	closed bool
}

type watchRef struct {
	w       *Watcher
	refs    int
	retired bool // out of the set: closed when its last user releases it
}

// NewWatchers returns a set of at most max watchers (each holds an
// inotify instance, of which a user has 128 by default).
func NewWatchers(max int) *Watchers {
	return &Watchers{max: max, m: map[string]*watchRef{}}
}

// Acquire returns the watcher of key's tree, given the tree's root just
// opened, which it takes: the watcher kept for key when it watches the
// same directory (root is then closed), else a new one, kept when the set
// has room. The caller uses the watcher's Root and calls release when
// done; a watcher not kept is closed then.
func (s *Watchers) Acquire(key string, root *os.Root) (w *Watcher, release func(), err error) {
	fi, err := root.Stat(".")
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[key]; ok {
		if os.SameFile(r.w.fi, fi) {
			root.Close()
			r.refs++
			return r.w, s.releaser(r), nil
		}
		s.retire(key, r)
	}
	nw := &Watcher{root: root, fi: fi, n: newNotifier()}
	r := &watchRef{w: nw, refs: 1}
	if s.closed || len(s.m) >= s.max {
		r.retired = true
		nw.n.unwatched = "no room for another watcher"
	} else {
		s.m[key] = r
	}
	return nw, s.releaser(r), nil
}

func (s *Watchers) releaser(r *watchRef) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			r.refs--
			done := r.retired && r.refs == 0
			s.mu.Unlock()
			if done {
				r.w.Close()
			}
		})
	}
}

// retire takes r out of the set; it is closed now if unused. s.mu is held.
func (s *Watchers) retire(key string, r *watchRef) {
	delete(s.m, key)
	r.retired = true
	if r.refs == 0 {
		r.w.Close()
	}
}

// Stats returns how the scans of key's kept watcher were made, and
// whether there is one.
func (s *Watchers) Stats(key string) (WatchStats, bool) {
	s.mu.Lock()
	r, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return WatchStats{}, false
	}
	return r.w.Stats(), true
}

// Drop closes the watchers whose keys keep says to drop (once unused).
func (s *Watchers) Drop(drop func(key string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.m {
		if drop(k) {
			s.retire(k, r)
		}
	}
}

// Close closes every watcher (each once unused); later Acquires return
// watchers that are not kept.
func (s *Watchers) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k, r := range s.m {
		s.retire(k, r)
	}
}
