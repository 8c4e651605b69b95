package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// ErrNotArchive is matched (errors.Is) by the error [ExtractTar] returns
// when its input is not a tar (or gzip-compressed tar) stream. That
// error's text is the tar reader's own ("archive/tar: invalid tar
// header", "unexpected EOF"), as Docker reports it (with a 500).
var ErrNotArchive = errors.New("rootfs: not a tar archive")

type notArchiveError struct{ err error }

func (e notArchiveError) Error() string        { return e.err.Error() }
func (e notArchiveError) Unwrap() error        { return e.err }
func (e notArchiveError) Is(target error) bool { return target == ErrNotArchive }

// CopySource is a container path as docker cp's archive endpoints see it
// (moby daemon/archive_unix.go containerArchivePath with its container
// filesystem view's Stat): what HEAD describes and GET writes.
type CopySource struct {
	// Info describes the path: not following a final symlink, except when
	// the path ends in "/" or "/." (then the kernel follows it, and the
	// result must be a directory).
	Info fs.FileInfo
	// Name is the path's base name as Docker reports it ("/" for the
	// root).
	Name string
	// LinkTarget is, for a symlink, the container path it finally
	// resolves to (every link on the way evaluated), as Docker reports it;
	// empty otherwise.
	LinkTarget string
	// Src is the container path whose content the archive holds; its
	// entries are named starting with Name.
	Src string
}

// StatCopy describes container path p the way Docker's archive endpoints
// do. A p ending in "/" or "/." names a directory: when it is not one the
// error wraps [syscall.ENOTDIR] ("not a directory"), as lstat(2) does. A
// missing path wraps [fs.ErrNotExist].
func StatCopy(f *FS, p string) (CopySource, error) {
	abs := path.Clean("/" + p)
	dirLike := strings.HasSuffix(p, "/") || path.Base(p) == "."
	var (
		fi  fs.FileInfo
		err error
	)
	if dirLike {
		fi, err = f.Stat(abs)
		if err == nil && !fi.IsDir() {
			err = &fs.PathError{Op: "lstat", Path: p, Err: syscall.ENOTDIR}
		}
	} else {
		fi, err = f.Lstat(abs)
	}
	if err != nil {
		return CopySource{}, err
	}
	// Docker reports (and names the entries by) the base name of the path
	// as given, trailing "/" or "/." kept: "/link/" gives "link" however
	// the link resolves, "/dir/." gives ".", the root "/" (entries "/",
	// "/bin/…").
	cs := CopySource{Info: fi, Name: path.Base(preserveTrailing(abs, p)), Src: abs}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if t, err := f.Resolve(abs, true); err == nil {
			cs.LinkTarget = t
		}
	}
	return cs, nil
}

// WriteCopyTar writes cs's archive into tw, entries named as Docker's
// archive GET names them.
func WriteCopyTar(f *FS, tw *tar.Writer, cs CopySource) error {
	return WriteCopyTarWith(f, tw, cs, TarOptions{})
}

// WriteCopyTarWith is WriteCopyTar with options.
func WriteCopyTarWith(f *FS, tw *tar.Writer, cs CopySource, opts TarOptions) error {
	w := &tarWriter{f: f, tw: tw, opts: opts}
	src := cs.Src
	if cs.Info.IsDir() && cs.Info.Mode()&fs.ModeSymlink == 0 {
		// A directory reached through a final symlink ("/link/"): its
		// content, not the link.
		r, err := f.Resolve(cs.Src, true)
		if err != nil {
			return fmt.Errorf("rootfs: resolve %s: %w", cs.Src, err)
		}
		src = r
	}
	if cs.Name == "/" && cs.Info.IsDir() {
		// The root's own entry is left out: Docker names it "/", which
		// common tar readers (Python's tarfile, after stripping a
		// directory's trailing "/") read as an empty name. Its content
		// follows as Docker names it ("/bin/", "/etc/passwd").
		ents, err := f.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := w.write(path.Join(src, e.Name()), "/"+e.Name(), nil); err != nil {
				return err
			}
		}
		return nil
	}
	return w.write(src, cs.Name, nil)
}

// preserveTrailing is abs with the trailing "/" or "/." of the path p it
// was cleaned from put back (moby's archive.PreserveTrailingDotOrSeparator).
func preserveTrailing(abs, p string) string {
	if path.Base(abs) != "." && (path.Base(p) == "." && p != "") {
		if !strings.HasSuffix(abs, "/") {
			abs += "/"
		}
		abs += "."
	}
	if !strings.HasSuffix(abs, "/") && strings.HasSuffix(p, "/") {
		abs += "/"
	}
	return abs
}
