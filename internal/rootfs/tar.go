package rootfs

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// ErrUnsafeEntry is returned for a tar entry whose name or hard-link target
// would climb out of the extraction directory.
var ErrUnsafeEntry = errors.New("rootfs: tar entry escapes the destination")

// ExtractOptions tunes [ExtractTar].
type ExtractOptions struct {
	// Whiteouts applies OCI layer whiteouts (.wh.NAME and .wh..wh..opq).
	Whiteouts bool
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the reverse (docker cp's noOverwriteDirNonDir).
	NoOverwriteDirNonDir bool
}

// ExtractLayer applies an image layer (a tar, gzip-compressed or not) to
// the container's root, honouring whiteouts.
func ExtractLayer(f *FS, r io.Reader) error {
	return ExtractTar(f, "/", r, ExtractOptions{Whiteouts: true})
}

// ExtractTar extracts a tar stream (gzip detected) below the container
// directory dest. Entry names are relative to dest; a name or hard-link
// target containing ".." that climbs above dest fails the extraction with
// [ErrUnsafeEntry]. Symlink targets are stored as they are: they are only
// ever resolved inside the container, and every write goes through f, so a
// link planted by an earlier entry cannot carry a later one out of the
// root. Devices and FIFOs are skipped.
func ExtractTar(f *FS, dest string, r io.Reader, o ExtractOptions) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("rootfs: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	dest = path.Clean("/" + dest)
	tr := tar.NewReader(br)
	type dirTime struct {
		name string
		t    time.Time
	}
	var dirTimes []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return notArchiveError{err}
		}
		if err != nil {
			return fmt.Errorf("rootfs: tar: %w", err)
		}
		rel, err := safeRel(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue // the destination itself
		}
		name := path.Join(dest, rel)
		base := path.Base(name)
		if o.Whiteouts && strings.HasPrefix(base, ".wh.") {
			dir := path.Dir(name)
			if base == ".wh..wh..opq" {
				ents, err := f.ReadDir(dir)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				for _, e := range ents {
					if err := f.RemoveAll(path.Join(dir, e.Name())); err != nil {
						return err
					}
				}
				continue
			}
			if err := f.RemoveAll(path.Join(dir, base[len(".wh."):])); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := f.MkdirAll(path.Dir(name), 0o755); err != nil {
			return fmt.Errorf("rootfs: tar %s: %w", hdr.Name, err)
		}
		old, oerr := f.Lstat(name)
		if oerr == nil {
			if o.NoOverwriteDirNonDir && old.IsDir() != (hdr.Typeflag == tar.TypeDir) {
				return fmt.Errorf("rootfs: tar %s: %w", hdr.Name, syscall.EEXIST)
			}
			if !(old.IsDir() && hdr.Typeflag == tar.TypeDir) {
				if err := f.RemoveAll(name); err != nil {
					return err
				}
			}
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		if hdr.Mode&04000 != 0 {
			mode |= fs.ModeSetuid
		}
		if hdr.Mode&02000 != 0 {
			mode |= fs.ModeSetgid
		}
		if hdr.Mode&01000 != 0 {
			mode |= fs.ModeSticky
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if oerr != nil || !old.IsDir() {
				if err := f.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					return err
				}
			}
			if err := f.Chmod(name, mode); err != nil {
				return err
			}
			dirTimes = append(dirTimes, dirTime{name, hdr.ModTime})
		case tar.TypeReg: // tar.Reader reports the old TypeRegA as TypeReg
			fh, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(fh, tr)
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("rootfs: tar %s: %w", hdr.Name, err)
			}
			if err := f.Chmod(name, mode); err != nil {
				return err
			}
			_ = f.Chtimes(name, hdr.ModTime, hdr.ModTime)
		case tar.TypeSymlink:
			if err := f.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			lrel, err := safeRel(hdr.Linkname)
			if err != nil || lrel == "" {
				return fmt.Errorf("%w: hard link %s -> %s", ErrUnsafeEntry, hdr.Name, hdr.Linkname)
			}
			if err := f.Link(path.Join(dest, lrel), name); err != nil {
				return err
			}
		default:
			// Character and block devices, FIFOs: not representable here.
		}
	}
	for i := len(dirTimes) - 1; i >= 0; i-- {
		_ = f.Chtimes(dirTimes[i].name, dirTimes[i].t, dirTimes[i].t)
	}
	return nil
}

// safeRel cleans a tar entry name into a path relative to the extraction
// directory, refusing names that climb out of it.
func safeRel(name string) (string, error) {
	depth := 0
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", fmt.Errorf("%w: %q", ErrUnsafeEntry, name)
			}
			depth--
			out = out[:len(out)-1]
		default:
			depth++
			out = append(out, c)
		}
	}
	return strings.Join(out, "/"), nil
}

// WriteTar writes src (a file, a link or a directory tree) into tw named
// name, the way docker cp's archive GET lays it out: directories as
// "name/", owner names dropped, links not followed.
//
// Further names of one file are written as files of their own, not as
// hard links: layers and bases written this way are compared and applied
// entry by entry (docker diff, commit, save), which a link to an entry
// written elsewhere would break.
func WriteTar(f *FS, tw *tar.Writer, src, name string) error {
	return (&tarWriter{f: f, tw: tw}).write(src, name, nil)
}

// TarOptions change how WriteCopyTarWith lays a tree out, for an
// archive of a container's live filesystem (the agent's docker cp).
type TarOptions struct {
	// HardLinks writes further names of one file (same device and
	// inode) as hard links to its first name, as Docker's archives do.
	HardLinks bool
	// Skip reports the paths left out of the archive, entry and all.
	Skip func(p string) bool
	// Shallow reports the directories written without their content
	// (pseudo filesystems mounted in a container: /proc, /sys).
	Shallow func(p string) bool
}

// tarWriter is one WriteTar.
type tarWriter struct {
	f    *FS
	tw   *tar.Writer
	opts TarOptions
	// seen are the first names of files with further names (HardLinks).
	seen map[[2]uint64]string
	// buf copies every file's content (one buffer per archive, not one
	// per file).
	buf []byte
	// linked holds the content of small files with several names, read
	// once for all of them (a busybox layout: 80 names of one file).
	linked map[[2]uint64][]byte
}

// maxLinkedContent bounds the content tarWriter keeps per multiply
// linked file.
const maxLinkedContent = 64 << 10

// write writes src as name; fi is src's Lstat when the caller has it
// (from its directory listing), nil to look it up.
func (w *tarWriter) write(src, name string, fi fs.FileInfo) error {
	f, tw := w.f, w.tw
	if w.opts.Skip != nil && w.opts.Skip(src) {
		return nil
	}
	if fi == nil {
		var err error
		if fi, err = f.Lstat(src); err != nil {
			return err
		}
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		link, _ = f.Readlink(src)
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(name, "/") {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && w.opts.HardLinks && fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := w.seen[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return tw.WriteHeader(hdr)
		}
		if w.seen == nil {
			w.seen = map[[2]uint64]string{}
		}
		w.seen[key] = name
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.IsDir() && w.opts.Shallow != nil && w.opts.Shallow(src) {
		return nil
	}
	switch {
	case fi.Mode().IsRegular():
		st, _ := fi.Sys().(*syscall.Stat_t)
		small := st != nil && st.Nlink > 1 && fi.Size() <= maxLinkedContent
		var key [2]uint64
		if small {
			key = [2]uint64{uint64(st.Dev), st.Ino}
			if b, ok := w.linked[key]; ok && int64(len(b)) == fi.Size() {
				_, err := tw.Write(b)
				return err
			}
		}
		r, err := f.Open(src)
		if err != nil {
			return err
		}
		if small {
			b, err := io.ReadAll(io.LimitReader(r, maxLinkedContent+1))
			r.Close()
			if err != nil {
				return err
			}
			if w.linked == nil {
				w.linked = map[[2]uint64][]byte{}
			}
			w.linked[key] = b
			_, err = tw.Write(b)
			return err
		}
		if w.buf == nil {
			w.buf = make([]byte, 32<<10)
		}
		// Neither side's WriterTo/ReaderFrom: they would allocate a
		// buffer per file.
		_, err = io.CopyBuffer(struct{ io.Writer }{tw}, struct{ io.Reader }{r}, w.buf)
		r.Close()
		return err
	case fi.IsDir():
		ents, err := f.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			// The listing's own Lstat when it has one (a directory read
			// through the root stats its entries as it lists them); with
			// mounts, a name may be a mount point, which only Lstat
			// through the FS resolves.
			var info fs.FileInfo
			if len(f.mounts) <= 1 { // "/" only
				if i, err := e.Info(); err == nil {
					info = i
				}
			}
			// The root's entries are "/bin", not "//bin".
			if err := w.write(path.Join(src, e.Name()), strings.TrimSuffix(name, "/")+"/"+e.Name(), info); err != nil {
				return err
			}
		}
	}
	return nil
}
