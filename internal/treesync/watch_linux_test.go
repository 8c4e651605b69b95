package treesync

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestWatcherFallsBackWhenTheQueueOverflows: more changes than the
// inotify queue holds make the next scan a full walk, which says why and
// still returns Scan's manifest; scans after it are incremental again.
func TestWatcherFallsBackWhenTheQueueOverflows(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := watcher(t, dir)
	if _, err := w.Scan(); err != nil {
		t.Fatal(err)
	}
	for i := range limit + 10 { // one IN_CREATE each (and more)
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	got, err := w.Scan()
	if err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Fallbacks != 1 || !strings.Contains(st.Reason, "overflow") || st.Full != 2 {
		t.Fatalf("after an overflow: %+v, want one fallback for it", st)
	}
	want, err := Scan(openRoot(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffManifest(got, want); len(d) > 0 || len(got) != limit+10 {
		t.Fatalf("after an overflow the manifest (%d entries) is not Scan's: %v", len(got), d)
	}
	if err := os.WriteFile(filepath.Join(dir, "0"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err = w.Scan(); err != nil || got["0"].Size != 1 {
		t.Fatalf("after a change: %+v, %v", got["0"], err)
	}
	if st := w.Stats(); st.Full != 2 || st.Incremental == 0 {
		t.Fatalf("the scan after the fall back was not incremental: %+v", st)
	}
}

// TestWatcherRootMovedOrRemoved: the root moved away makes the next scan
// a full walk of what the root is now; removed, it is empty.
func TestWatcherRootMovedOrRemoved(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "tree")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := watcher(t, dir)
	if _, err := w.Scan(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, filepath.Join(base, "moved")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Scan(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Fallbacks != 1 || !strings.Contains(st.Reason, "root") {
		t.Fatalf("after the root moved: %+v", st)
	}
	if err := os.RemoveAll(filepath.Join(base, "moved")); err != nil {
		t.Fatal(err)
	}
	// The watcher's root holds the directory open, so the kernel reports
	// its removal only as the removal of what it held.
	m, err := w.Scan()
	if err != nil || len(m) != 0 {
		t.Fatalf("after the root was removed: %v, %v", m, err)
	}
}

// TestWatchersLifetime: a kept watcher is shared while its directory is
// the same, replaced (and closed) when the directory is another one, and
// closed by Drop and Close; a set that is full hands out watchers that
// walk and are closed at release. Every descriptor is closed in the end.
func TestWatchersLifetime(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	open := func(d string) *os.Root {
		r, err := os.OpenRoot(d)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := openFDs(t)
	s := NewWatchers(1)
	w1, rel1, err := s.Acquire("x", open(a))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Scan(); err != nil {
		t.Fatal(err)
	}
	rel1()
	w2, rel2, err := s.Acquire("x", open(a))
	if err != nil || w2 != w1 {
		t.Fatalf("the same directory got another watcher (%v)", err)
	}
	rel2()
	// The set is full: another key walks, and its watcher is closed at release.
	w3, rel3, err := s.Acquire("y", open(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w3.Scan(); err != nil {
		t.Fatal(err)
	}
	if st := w3.Stats(); st.Unwatched == "" {
		t.Fatalf("a watcher beyond the set's room watches: %+v", st)
	}
	rel3()
	if _, err := w3.Scan(); err != ErrClosed {
		t.Fatalf("a released watcher not kept: %v, want ErrClosed", err)
	}
	// Another directory under the same key replaces the watcher.
	if err := os.Rename(a, filepath.Join(base, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	w4, rel4, err := s.Acquire("x", open(a))
	if err != nil || w4 == w1 {
		t.Fatalf("a new directory kept the old watcher (%v)", err)
	}
	if _, err := w1.Scan(); err != ErrClosed {
		t.Fatalf("the replaced watcher: %v, want ErrClosed", err)
	}
	if _, err := w4.Scan(); err != nil {
		t.Fatal(err)
	}
	// Dropped while in use: closed at release.
	s.Drop(func(k string) bool { return k == "x" })
	if _, err := w4.Scan(); err != nil {
		t.Fatalf("a dropped watcher in use: %v", err)
	}
	rel4()
	if _, err := w4.Scan(); err != ErrClosed {
		t.Fatalf("a dropped watcher after release: %v, want ErrClosed", err)
	}
	w5, rel5, err := s.Acquire("z", open(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w5.Scan(); err != nil {
		t.Fatal(err)
	}
	rel5()
	s.Close()
	if _, err := w5.Scan(); err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	// More after is a leak; fewer is a descriptor an earlier test's
	// goroutine closed meanwhile.
	if after := openFDs(t); after > before {
		t.Fatalf("%d descriptors open before, %d after", before, after)
	}
}

// TestWatcherWalksFilesystemsItCannotTrust: a tree on a filesystem that
// is not known to report every change to inotify (here procfs, standing
// for NFS or FUSE) is not watched: every scan is a full walk, and the
// watcher says why.
func TestWatcherWalksFilesystemsItCannotTrust(t *testing.T) {
	w := watcher(t, "/proc/sys/fs/inotify")
	for range 2 {
		m, err := w.Scan()
		if err != nil {
			t.Fatal(err)
		}
		if m["max_user_watches"].Type != File {
			t.Fatalf("manifest of /proc/sys/fs/inotify: %v", m)
		}
	}
	if st := w.Stats(); st.Full != 2 || st.Incremental != 0 || !strings.Contains(st.Unwatched, "filesystem") {
		t.Fatalf("on procfs: %+v, want two full walks and the reason", st)
	}
}
