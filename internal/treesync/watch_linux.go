package treesync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// watchMask is what a directory's watch reports: entries made, removed,
// moved in or out, written or changed in mode or time, and the directory
// itself removed or moved.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// structural are the events after which a name may be another entry
// than before (a directory there is walked again whole).
const structural = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// notifier is a Watcher's inotify state.
type notifier struct {
	fd     int              // inotify descriptor; -1 when not watching
	wds    map[int32]string // watch -> directory ("." the root)
	dirs   map[string]int32 // directory -> watch
	linked map[string]bool  // files with more than one link
	buf    []byte
	// unwatched, once set, says why the tree is not watched (every scan
	// is then a full walk); suspect, set during a scan, asks for a full
	// walk at its end.
	unwatched, suspect string
	walking            bool // a full walk is under way
}

func newNotifier() notifier { return notifier{fd: -1} }

func (n *notifier) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
	n.wds, n.dirs = nil, nil
}

// stopWatching gives up watching for good, saying why.
func (n *notifier) stopWatching(why string) {
	n.close()
	if n.unwatched == "" {
		n.unwatched = why
	}
}

// watchable filesystems report every change of their trees to inotify
// (local ones; a network or FUSE filesystem may change under us).
var watchable = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:      true, // ext2, ext3 and ext4
	unix.XFS_SUPER_MAGIC:       true,
	unix.BTRFS_SUPER_MAGIC:     true,
	unix.TMPFS_MAGIC:           true,
	unix.OVERLAYFS_SUPER_MAGIC: true,
	unix.F2FS_SUPER_MAGIC:      true,
	0x2fc12fc1:                 true, // zfs
}

// refresh brings w.m up to date: from the queued events when watching,
// else by a full walk.
func (w *Watcher) refresh() error {
	if w.closed {
		return ErrClosed
	}
	n := &w.n
	if w.m == nil || n.fd < 0 {
		return w.full("")
	}
	dirty := map[string]bool{} // path -> whether it may be another entry now
	if n.buf == nil {
		n.buf = make([]byte, 64<<10)
	}
	for {
		k, err := unix.Read(n.fd, n.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) || k == 0 {
			break
		}
		if err != nil {
			return w.full(fmt.Sprintf("reading inotify: %v", err))
		}
		for b := n.buf[:k]; len(b) >= unix.SizeofInotifyEvent; {
			wd := int32(binary.NativeEndian.Uint32(b))
			mask := binary.NativeEndian.Uint32(b[4:])
			l := int(binary.NativeEndian.Uint32(b[12:]))
			if len(b) < unix.SizeofInotifyEvent+l {
				return w.full("a truncated inotify event")
			}
			name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l]), "\x00")
			b = b[unix.SizeofInotifyEvent+l:]
			if mask&unix.IN_Q_OVERFLOW != 0 {
				return w.full("the inotify queue overflowed")
			}
			dir, ok := n.wds[wd]
			if !ok {
				continue // a watch given up (its subtree walked again since)
			}
			switch {
			case mask&unix.IN_IGNORED != 0:
				delete(n.wds, wd)
				if n.dirs[dir] == wd {
					delete(n.dirs, dir)
				}
				if dir == "." {
					return w.full("the root's watch went away")
				}
				continue
			case mask&unix.IN_UNMOUNT != 0:
				return w.full("a filesystem of the tree was unmounted")
			case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
				if dir == "." {
					return w.full("the root was moved or removed")
				}
				continue // its parent's watch names it
			case name == "":
				continue // the directory's own mode: its parent names it
			}
			p := name
			if dir != "." {
				p = dir + "/" + name
			}
			dirty[p] = dirty[p] || mask&structural != 0
		}
	}
	for p := range n.linked {
		if _, ok := dirty[p]; !ok {
			dirty[p] = false
		}
	}
	w.stats.Incremental++
	for _, p := range slices.SortedFunc(maps.Keys(dirty), walkOrder) {
		if err := w.update(p, dirty[p]); err != nil {
			w.m, w.order = nil, nil
			return err
		}
	}
	if n.suspect == "" {
		for d, wd := range n.dirs {
			if n.wds[wd] != d || (d != "." && w.m[d].Type != Dir) {
				n.suspect = "a directory is watched at two paths"
				break
			}
		}
	}
	if n.suspect != "" {
		return w.full(n.suspect)
	}
	return nil
}

// update looks at p again; with replaced it may be another entry than
// the one known (a directory there is walked again whole).
func (w *Watcher) update(p string, replaced bool) error {
	n := &w.n
	dir := path.Dir(p)
	if dir != "." && w.m[dir].Type != Dir {
		return nil // its parent is gone or replaced: p went with it
	}
	w.stats.Examined++
	ents, linked, err := listDir(w.root, dir, []string{path.Base(p)}, nil)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		ents, err = nil, nil // the parent went; its parent's events say so
	}
	if err != nil {
		return err
	}
	old, had := w.m[p]
	if len(ents) == 0 {
		if had {
			w.remove(p)
		}
		return nil
	}
	e := ents[0]
	if e.Type == Dir && had && old.Type == Dir && !replaced {
		if _, ok := n.dirs[p]; ok {
			w.m[p] = e
			return nil
		}
	}
	if had && (old.Type == Dir || e.Type == Dir) {
		w.remove(p)
		had = false
	}
	if !had {
		w.order = nil
	}
	w.m[p] = e
	w.noteLinks(p, linked != nil && linked[0])
	if e.Type == Dir {
		return w.addTree(p)
	}
	return nil
}

// noteLinks records whether the file at p has more than one link; a
// newly seen one asks for a full walk (its other names in the tree are
// not known).
func (w *Watcher) noteLinks(p string, many bool) {
	n := &w.n
	switch {
	case !many:
		delete(n.linked, p)
	case !n.linked[p]:
		n.linked[p] = true
		if !n.walking && n.suspect == "" {
			n.suspect = "a file with several links appeared"
		}
	}
}

// remove forgets p and, for a directory, everything below it, with the
// watches of its directories.
func (w *Watcher) remove(p string) {
	n := &w.n
	old := w.m[p]
	delete(w.m, p)
	delete(n.linked, p)
	w.order = nil
	if old.Type != Dir {
		return
	}
	below := func(q string) bool { return len(q) > len(p) && q[len(p)] == '/' && strings.HasPrefix(q, p) }
	for q := range w.m {
		if below(q) {
			delete(w.m, q)
			delete(n.linked, q)
		}
	}
	for d, wd := range n.dirs {
		if d != p && !below(d) {
			continue
		}
		delete(n.dirs, d)
		if n.wds[wd] == d { // not taken over by the same directory elsewhere
			delete(n.wds, wd)
			_, _ = unix.InotifyRmWatch(n.fd, uint32(wd))
		}
	}
}

// full walks the whole tree again, watching each directory (before
// listing it, so no change is missed) unless the tree is not watched.
func (w *Watcher) full(reason string) error {
	n := &w.n
	n.close()
	w.m, w.order = nil, nil
	n.linked, n.suspect = map[string]bool{}, ""
	w.stats.Full++
	if reason != "" {
		w.stats.Fallbacks++
		w.stats.Reason = reason
	}
	if n.unwatched == "" {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			n.stopWatching(fmt.Sprintf("inotify: %v", err))
		} else {
			n.fd, n.wds, n.dirs = fd, map[int32]string{}, map[string]int32{}
		}
	}
	w.m = Manifest{}
	n.walking = true
	err := w.addTree(".")
	n.walking = false
	if err != nil {
		n.close()
		w.m = nil
	}
	if n.suspect != "" {
		n.stopWatching(n.suspect)
	}
	w.stats.Unwatched = n.unwatched
	return err
}

// addTree watches directory p (when watching) and records what it holds,
// walking its subdirectories.
func (w *Watcher) addTree(p string) error {
	n := &w.n
	var watch func(*os.File) error
	if n.fd >= 0 {
		watch = func(f *os.File) error { return w.watch(f, p) }
	}
	ents, linked, err := listDir(w.root, p, nil, watch)
	if p != "." && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)) {
		return nil // gone or replaced meanwhile: its parent's events say so
	}
	if err != nil {
		return err
	}
	for i, e := range ents {
		if _, had := w.m[e.Path]; !had {
			w.order = nil
		}
		w.m[e.Path] = e
		if e.Type == File {
			w.noteLinks(e.Path, linked != nil && linked[i])
		}
		if e.Type == Dir {
			if err := w.addTree(e.Path); err != nil {
				return err
			}
		}
	}
	return nil
}

// watch adds an inotify watch on the open directory f (at p), reached
// through /proc/self/fd so the watch is on the directory opened inside
// the root and no path is looked up again. A directory that cannot be
// watched stops the watching (the caller walks on).
func (w *Watcher) watch(f *os.File, p string) error {
	n := &w.n
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var wd int
	var why string
	cerr := rc.Control(func(fd uintptr) {
		var sfs unix.Statfs_t
		if err := unix.Fstatfs(int(fd), &sfs); err != nil {
			why = fmt.Sprintf("statfs %s: %v", p, err)
			return
		}
		if !watchable[int64(sfs.Type)] {
			why = fmt.Sprintf("%s is on a filesystem (type %#x) whose changes inotify may not report", p, sfs.Type)
			return
		}
		var err error
		wd, err = unix.InotifyAddWatch(n.fd, "/proc/self/fd/"+strconv.Itoa(int(fd)), watchMask)
		if err != nil {
			why = fmt.Sprintf("watching %s: %v", p, err)
		}
	})
	if cerr != nil {
		return cerr
	}
	if why != "" {
		n.stopWatching(why)
		w.stats.Unwatched = n.unwatched
		return nil
	}
	// The same directory at another path is a move whose source is
	// handled after (remove leaves this watch alone) or, in a full walk,
	// a directory at two paths (a bind mount), which inotify cannot tell
	// apart: the tree is not watched then. (An incremental scan checks
	// for it at its end.)
	if old, ok := n.wds[int32(wd)]; ok && old != p && n.walking {
		n.suspect = fmt.Sprintf("%s and %s are the same directory", old, p)
	}
	n.wds[int32(wd)] = p
	n.dirs[p] = int32(wd)
	return nil
}
