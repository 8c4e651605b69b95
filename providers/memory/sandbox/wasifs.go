package sandbox

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// wasiFS is the filesystem one WebAssembly instance sees at "/": the
// container's rootfs (every path resolved and confined by package rootfs)
// plus the device files, which need the instance's standard streams.
type wasiFS struct {
	experimentalsys.UnimplementedFS
	fs  *rootfs.FS
	inv *invocation
}

func (w *wasiFS) name(p string) string { return path.Clean("/" + p) }

func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		switch en {
		case syscall.EXDEV:
			// WASI as implemented by wazero has no EXDEV; mv treats
			// ENOTSUP from rename as "different mounts".
			return experimentalsys.ENOTSUP
		case syscall.EBUSY:
			return experimentalsys.EPERM
		}
		return experimentalsys.UnwrapOSError(en)
	}
	return experimentalsys.UnwrapOSError(err)
}

// OpenFile implements experimentalsys.FS.
func (w *wasiFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name := w.name(p)
	if w.inv != nil && w.inv.c.gate(w.inv.ctx) != nil {
		return nil, experimentalsys.EINTR
	}
	if d := deviceFor(name); d != devNone {
		return &devFile{kind: d, inv: w.inv}, 0
	}
	if w.inv != nil && w.inv.fifos[name] {
		f, err := os.OpenFile(name, osFlag(flag)&^(os.O_CREATE|os.O_TRUNC), 0)
		if err != nil {
			return nil, errno(err)
		}
		return &osFile{f: f, flag: flag}, 0
	}
	var ctr *Container
	if w.inv != nil && w.inv.c != nil {
		ctr = w.inv.c
		if !ctr.openFile() {
			return nil, experimentalsys.EAGAIN // WASI as wazero implements it has no EMFILE
		}
	}
	var q *quota
	var freed int64
	if ctr != nil {
		q, freed = ctr.opening(name, osFlag(flag))
	}
	f, err := w.fs.OpenFile(name, osFlag(flag), perm)
	if err != nil {
		if ctr != nil {
			ctr.closeFile()
		}
		return nil, errno(err)
	}
	if q != nil {
		q.give(freed)
	}
	return &osFile{f: f, flag: flag, ctr: ctr, quota: q, inv: w.inv}, 0
}

func osFlag(f experimentalsys.Oflag) int {
	var o int
	switch {
	case f&experimentalsys.O_RDWR != 0:
		o = os.O_RDWR
	case f&experimentalsys.O_WRONLY != 0:
		o = os.O_WRONLY
	default:
		o = os.O_RDONLY
	}
	if f&experimentalsys.O_APPEND != 0 {
		o |= os.O_APPEND
	}
	if f&experimentalsys.O_CREAT != 0 {
		o |= os.O_CREATE
	}
	if f&experimentalsys.O_EXCL != 0 {
		o |= os.O_EXCL
	}
	if f&experimentalsys.O_TRUNC != 0 {
		o |= os.O_TRUNC
	}
	if f&experimentalsys.O_DIRECTORY != 0 {
		o |= syscall.O_DIRECTORY
	}
	if f&experimentalsys.O_NOFOLLOW != 0 {
		o |= syscall.O_NOFOLLOW
	}
	return o
}

// Lstat implements experimentalsys.FS.
func (w *wasiFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	name := w.name(p)
	if deviceFor(name) != devNone {
		return devStat(), 0
	}
	fi, err := w.fs.Lstat(name)
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements experimentalsys.FS.
func (w *wasiFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	name := w.name(p)
	if deviceFor(name) != devNone {
		return devStat(), 0
	}
	if w.inv != nil && w.inv.fifos[name] {
		return sys.Stat_t{Mode: fs.ModeNamedPipe | 0o600, Nlink: 1}, 0
	}
	fi, err := w.fs.Stat(name)
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.
func (w *wasiFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return errno(w.fs.Mkdir(w.name(p), perm))
}

// Chmod implements experimentalsys.FS.
func (w *wasiFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return errno(w.fs.Chmod(w.name(p), perm))
}

// Rename implements experimentalsys.FS.
func (w *wasiFS) Rename(from, to string) experimentalsys.Errno {
	var q *quota
	var freed int64
	if w.inv != nil && w.inv.c != nil {
		q, freed = w.inv.c.removing(w.name(to))
	}
	if err := w.fs.Rename(w.name(from), w.name(to)); err != nil {
		return errno(err)
	}
	if q != nil {
		q.give(freed)
	}
	return 0
}

// Rmdir implements experimentalsys.FS.
func (w *wasiFS) Rmdir(p string) experimentalsys.Errno {
	name := w.name(p)
	fi, err := w.fs.Lstat(name)
	if err != nil {
		return errno(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errno(w.fs.Remove(name))
}

// Unlink implements experimentalsys.FS.
func (w *wasiFS) Unlink(p string) experimentalsys.Errno {
	name := w.name(p)
	fi, err := w.fs.Lstat(name)
	if err != nil {
		return errno(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	var q *quota
	var freed int64
	if w.inv != nil && w.inv.c != nil {
		q, freed = w.inv.c.removing(name)
	}
	if err := w.fs.Remove(name); err != nil {
		return errno(err)
	}
	if q != nil {
		q.give(freed)
	}
	return 0
}

// Link implements experimentalsys.FS.
func (w *wasiFS) Link(oldPath, newPath string) experimentalsys.Errno {
	return errno(w.fs.Link(w.name(oldPath), w.name(newPath)))
}

// Symlink implements experimentalsys.FS. Absolute targets are allowed: the
// link is only ever resolved inside the container by package rootfs.
func (w *wasiFS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	return errno(w.fs.Symlink(oldPath, w.name(linkName)))
}

// Readlink implements experimentalsys.FS.
func (w *wasiFS) Readlink(p string) (string, experimentalsys.Errno) {
	t, err := w.fs.Readlink(w.name(p))
	return t, errno(err)
}

// Utimens implements experimentalsys.FS.
func (w *wasiFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	name := w.name(p)
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := w.fs.Stat(name)
		if err != nil {
			return errno(err)
		}
		if atim == experimentalsys.UTIME_OMIT {
			atim = fi.ModTime().UnixNano()
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = fi.ModTime().UnixNano()
		}
	}
	return errno(w.fs.Chtimes(name, time.Unix(0, atim), time.Unix(0, mtim)))
}

// osFile adapts an *os.File opened through rootfs to experimentalsys.File.
type osFile = osFileT[int64]

// osFileT is generic only so that its Seek, which must return a WASI errno
// rather than an error, is not mistaken for io.Seeker by go vet.
type osFileT[Off ~int64] struct {
	experimentalsys.UnimplementedFile
	f    *os.File
	flag experimentalsys.Oflag
	// ctr is charged one open file until Close; nil: nobody.
	ctr *Container
	// quota is charged what writes add to the file; nil: no limit. inv
	// is told when a write fails for it.
	quota *quota
	inv   *invocation

	mu      sync.Mutex
	dirents []experimentalsys.Dirent
	loaded  bool
	dirPos  int
}

func (o *osFileT[Off]) Dev() (uint64, experimentalsys.Errno) {
	st, e := o.Stat()
	return st.Dev, e
}

func (o *osFileT[Off]) Ino() (sys.Inode, experimentalsys.Errno) {
	st, e := o.Stat()
	return st.Ino, e
}

func (o *osFileT[Off]) IsDir() (bool, experimentalsys.Errno) {
	st, e := o.Stat()
	return st.Mode.IsDir(), e
}

func (o *osFileT[Off]) IsAppend() bool { return o.flag&experimentalsys.O_APPEND != 0 }

func (o *osFileT[Off]) SetAppend(enable bool) experimentalsys.Errno {
	// Appending is emulated by seeking to the end before each write.
	if enable {
		o.flag |= experimentalsys.O_APPEND
	} else {
		o.flag &^= experimentalsys.O_APPEND
	}
	return 0
}

func (o *osFileT[Off]) Stat() (sys.Stat_t, experimentalsys.Errno) {
	fi, err := o.f.Stat()
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

func ioErrno(err error) experimentalsys.Errno {
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	return errno(err)
}

func (o *osFileT[Off]) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := o.f.Read(buf)
	return n, ioErrno(err)
}

func (o *osFileT[Off]) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	n, err := o.f.ReadAt(buf, off)
	return n, ioErrno(err)
}

func (o *osFileT[Off]) Seek(offset Off, whence int) (int64, experimentalsys.Errno) {
	if isDir, _ := o.IsDir(); isDir {
		if offset != 0 || whence != io.SeekStart {
			return 0, experimentalsys.EINVAL
		}
		o.mu.Lock()
		o.loaded, o.dirents, o.dirPos = false, nil, 0
		o.mu.Unlock()
		return 0, 0
	}
	n, err := o.f.Seek(int64(offset), whence)
	return n, errno(err)
}

func (o *osFileT[Off]) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.loaded {
		if _, err := o.f.Seek(0, io.SeekStart); err != nil {
			return nil, errno(err)
		}
		ents, err := o.f.ReadDir(-1)
		if err != nil {
			return nil, errno(err)
		}
		o.dirents = o.dirents[:0]
		for _, e := range ents {
			o.dirents = append(o.dirents, experimentalsys.Dirent{Name: e.Name(), Type: e.Type()})
		}
		o.loaded, o.dirPos = true, 0
	}
	rest := o.dirents[o.dirPos:]
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	o.dirPos += len(rest)
	return rest, 0
}

func (o *osFileT[Off]) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	if o.quota != nil {
		return o.quotaWrite(buf, -1)
	}
	if o.flag&experimentalsys.O_APPEND != 0 {
		if _, err := o.f.Seek(0, io.SeekEnd); err != nil {
			return 0, errno(err)
		}
	}
	n, err := o.f.Write(buf)
	return n, errno(err)
}

// quotaWrite writes within o's quota: a write of which nothing fits
// fails; one that partly fits is short, and the guest's next write
// fails, as on a full filesystem. The failure is EIO: WASI as wazero
// implements it has no ENOSPC (its unknown errnos all become EIO).
func (o *osFileT[Off]) quotaWrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	n, short, err := quotaWrite(o.quota, o.f, buf, off, o.flag&experimentalsys.O_APPEND != 0)
	if err == nil && short && n == 0 {
		if o.inv != nil {
			o.inv.noSpace = true
		}
		return 0, experimentalsys.EIO
	}
	return n, errno(err)
}

func (o *osFileT[Off]) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if o.quota != nil {
		if off < 0 {
			return 0, experimentalsys.EINVAL
		}
		return o.quotaWrite(buf, off)
	}
	n, err := o.f.WriteAt(buf, off)
	return n, errno(err)
}

func (o *osFileT[Off]) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if o.quota != nil {
		err := quotaTruncate(o.quota, o.f, size)
		if errors.Is(err, syscall.ENOSPC) && o.inv != nil {
			o.inv.noSpace = true
		}
		return errno(err)
	}
	return errno(o.f.Truncate(size))
}

func (o *osFileT[Off]) Sync() experimentalsys.Errno     { return errno(o.f.Sync()) }
func (o *osFileT[Off]) Datasync() experimentalsys.Errno { return errno(o.f.Sync()) }

func (o *osFileT[Off]) Utimens(atim, mtim int64) experimentalsys.Errno {
	// Times are set by path (Utimens on the FS); fd-based updates are
	// rare and not worth a second code path.
	return 0
}

func (o *osFileT[Off]) Close() experimentalsys.Errno {
	if o.ctr != nil {
		o.ctr.closeFile()
		o.ctr = nil
	}
	return errno(o.f.Close())
}

// Device files, served by the sandbox rather than the host.

type devKind int

const (
	devNone devKind = iota
	devNull
	devZero
	devRandom
	devStdin
	devStdout
	devStderr
)

// deviceFor maps a clean container path to a device.
func deviceFor(p string) devKind {
	switch p {
	case "/dev/null":
		return devNull
	case "/dev/zero":
		return devZero
	case "/dev/random", "/dev/urandom":
		return devRandom
	case "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0":
		return devStdin
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "/dev/tty", "/dev/console":
		return devStdout
	case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2":
		return devStderr
	}
	return devNone
}

func devStat() sys.Stat_t {
	return sys.Stat_t{Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Nlink: 1, Ino: 1}
}

// devFile is an open device.
type devFile struct {
	experimentalsys.UnimplementedFile
	kind devKind
	inv  *invocation
}

func (d *devFile) IsDir() (bool, experimentalsys.Errno)      { return false, 0 }
func (d *devFile) Stat() (sys.Stat_t, experimentalsys.Errno) { return devStat(), 0 }
func (d *devFile) Close() experimentalsys.Errno              { return 0 }

func (d *devFile) Read(buf []byte) (int, experimentalsys.Errno) {
	n, err := devRead(d.kind, d.inv, buf)
	return n, ioErrno(err)
}

func (d *devFile) Write(buf []byte) (int, experimentalsys.Errno) {
	n, err := devWrite(d.kind, d.inv, buf)
	if errors.Is(err, syscall.ENOSPC) && d.inv != nil {
		d.inv.noSpace = true
	}
	return n, ioErrno(err)
}

func devRead(k devKind, inv *invocation, buf []byte) (int, error) {
	switch k {
	case devZero:
		clear(buf)
		return len(buf), nil
	case devRandom:
		return randRead(buf)
	case devStdin:
		if inv != nil && inv.stdin != nil {
			return inv.stdin.Read(buf)
		}
	}
	return 0, io.EOF
}

func devWrite(k devKind, inv *invocation, buf []byte) (int, error) {
	switch {
	case k == devStdout && inv != nil && inv.stdout != nil:
		return inv.stdout.Write(buf)
	case k == devStderr && inv != nil && inv.stderr != nil:
		return inv.stderr.Write(buf)
	}
	return len(buf), nil
}
