package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
)

// Quota bounds the bytes of file content under one mount point of a
// container (a sized --tmpfs), or under its root outside every other
// mount (--storage-opt size=). Used is what the files there already hold
// when the quota is set.
type Quota struct {
	// Target is the mount point inside the container; "/" is the root.
	Target string
	// Limit is the most bytes the files there may hold.
	Limit int64
	// Used is the bytes they hold now.
	Used int64
}

// quota is the live counter of one Quota: charged by writes that grow
// files, credited by truncation and removal. It counts file sizes as the
// files report them (holes included), not blocks.
type quota struct {
	target string
	limit  int64
	used   atomic.Int64
}

// SetQuotas replaces the container's quotas; call it before starting
// processes (the counters start from each Quota's Used).
func (c *Container) SetQuotas(qs []Quota) {
	if len(qs) == 0 {
		c.quotas.Store(nil)
		return
	}
	live := make([]*quota, 0, len(qs))
	for _, q := range qs {
		l := &quota{target: path.Clean("/" + q.Target), limit: q.Limit}
		l.used.Store(q.Used)
		live = append(live, l)
	}
	c.quotas.Store(&live)
}

// QuotaUsage reports the limit and the bytes used of the quota at
// target, or ok false when there is none.
func (c *Container) QuotaUsage(target string) (limit, used int64, ok bool) {
	if qs := c.quotas.Load(); qs != nil {
		for _, q := range *qs {
			if q.target == path.Clean("/"+target) {
				return q.limit, q.used.Load(), true
			}
		}
	}
	return 0, 0, false
}

// quotaFor is the quota holding the container path name (symlinks
// expanded; the final one when follow is set), or nil. Without quotas
// it costs nothing.
func (c *Container) quotaFor(name string, follow bool) *quota {
	qs := c.quotas.Load()
	if qs == nil {
		return nil
	}
	p, err := c.fs.Resolve(name, follow)
	if err != nil {
		return nil
	}
	// The mount holding p is the longest mount point it lies under.
	holder := "/"
	for _, m := range c.fs.Mounts() {
		if (p == m.Target || strings.HasPrefix(p, m.Target+"/")) && len(m.Target) > len(holder) {
			holder = m.Target
		}
	}
	for _, q := range *qs {
		if q.target == holder {
			return q
		}
	}
	return nil
}

// take reserves up to want bytes and returns how many it got.
func (q *quota) take(want int64) int64 {
	for {
		u := q.used.Load()
		got := min(want, q.limit-u)
		if got <= 0 {
			return 0
		}
		if q.used.CompareAndSwap(u, u+got) {
			return got
		}
	}
}

// give credits n bytes back (never below zero: files that were there
// before the count began may be removed).
func (q *quota) give(n int64) {
	for n > 0 {
		u := q.used.Load()
		if q.used.CompareAndSwap(u, max(0, u-n)) {
			return
		}
	}
}

// quotaWrite writes buf to f at off (at the file's offset when off < 0,
// at its end when appending) within q, as a full filesystem does: the
// bytes that fit are written, and nothing when none fit. short reports
// that not all of buf fitted; the caller answers ENOSPC.
func quotaWrite(q *quota, f *os.File, buf []byte, off int64, appending bool) (n int, short bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size := fi.Size()
	pos := off
	switch {
	case appending:
		pos = size
	case off < 0:
		if pos, err = f.Seek(0, io.SeekCurrent); err != nil {
			return 0, false, err
		}
	}
	growth := pos + int64(len(buf)) - size
	if growth <= 0 {
		return write(f, buf, off, appending)
	}
	got := q.take(growth)
	fit := int64(len(buf)) - (growth - got)
	if fit <= 0 {
		q.give(got)
		return 0, true, nil
	}
	n, _, err = write(f, buf[:fit], off, appending)
	q.give(got - max(0, pos+int64(n)-size))
	return n, fit < int64(len(buf)), err
}

func write(f *os.File, buf []byte, off int64, appending bool) (int, bool, error) {
	if appending {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return 0, false, err
		}
	}
	if off >= 0 && !appending {
		n, err := f.WriteAt(buf, off)
		return n, false, err
	}
	n, err := f.Write(buf)
	return n, false, err
}

// quotaTruncate sets f's size within q.
func quotaTruncate(q *quota, f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	old := fi.Size()
	if size > old {
		if got := q.take(size - old); got < size-old {
			q.give(got)
			return syscall.ENOSPC
		}
	}
	if err := f.Truncate(size); err != nil {
		if size > old {
			q.give(size - old)
		}
		return err
	}
	if size < old {
		q.give(old - size)
	}
	return nil
}

// removing is the size a removal of name (not followed) frees in its
// quota: a regular file's size when this is its last link.
func (c *Container) removing(name string) (*quota, int64) {
	q := c.quotaFor(name, false)
	if q == nil {
		return nil, 0
	}
	fi, err := c.fs.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || links(fi) > 1 {
		return nil, 0
	}
	return q, fi.Size()
}

// links is fi's hard-link count (1 when unknown).
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// opening prepares an open of name with flag within the container's
// quotas: the quota the file is in when it is opened for writing, and
// the bytes O_TRUNC will free.
func (c *Container) opening(name string, flag int) (*quota, int64) {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return nil, 0
	}
	q := c.quotaFor(name, flag&syscall.O_NOFOLLOW == 0)
	if q == nil || flag&os.O_TRUNC == 0 {
		return q, 0
	}
	if fi, err := c.fs.Stat(name); err == nil && fi.Mode().IsRegular() {
		return q, fi.Size()
	}
	return q, 0
}

// quotaFile is a file a shell redirection opened for writing under a
// quota: its writes fail with ENOSPC past the quota, as they would on a
// full filesystem ("write error: No space left on device").
type quotaFile struct {
	countedFile
	q         *quota
	appending bool
}

func (f *quotaFile) Write(b []byte) (int, error) {
	n, short, err := quotaWrite(f.q, f.File, b, -1, f.appending)
	if err == nil && short {
		err = &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (f *quotaFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// ReadFrom hides os.File's, which would write past the quota.
func (f *quotaFile) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{f}, r)
}

// diskInfo is what df shows: "TOTAL FREE AVAIL" of the root (its quota
// when it has one, else the host filesystem holding it), then a
// "TARGET TOTAL FREE AVAIL" line for each other mount with a quota.
func (c *Container) diskInfo() string {
	var b strings.Builder
	var qs []*quota
	if p := c.quotas.Load(); p != nil {
		qs = *p
	}
	root := false
	for _, q := range qs {
		if q.target == "/" {
			free := max(0, q.limit-q.used.Load())
			fmt.Fprintf(&b, "%d %d %d", q.limit, free, free)
			root = true
		}
	}
	if !root {
		total, free, avail, ok := diskSpace(c.fs.RootDir())
		if !ok {
			return ""
		}
		fmt.Fprintf(&b, "%d %d %d", total, free, avail)
	}
	for _, q := range qs {
		if q.target != "/" {
			free := max(0, q.limit-q.used.Load())
			fmt.Fprintf(&b, "\n%s %d %d %d", q.target, q.limit, free, free)
		}
	}
	return b.String()
}

// noSpaceWriter is a WebAssembly instance's standard stream: a write
// that fails for a size limit (a redirection into a full mount) is
// recorded for the guest, which sees EIO.
type noSpaceWriter struct {
	w   io.Writer
	inv *invocation
}

func (n noSpaceWriter) Write(p []byte) (int, error) {
	c, err := n.w.Write(p)
	if errors.Is(err, syscall.ENOSPC) {
		n.inv.noSpace = true
	}
	return c, err
}
