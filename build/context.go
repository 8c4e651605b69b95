package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/internal/rootfs"
)

// readContext extracts the build context tar (gzip detected) into dir,
// refusing entries that climb out of it, and returns the Dockerfile's
// text. Files matched by .dockerignore are then removed, as Docker's
// daemon does for contexts not filtered by the client; the Dockerfile
// and .dockerignore are read before that and never reach COPY if
// ignored.
func readContext(r io.Reader, dir, dockerfile string) ([]byte, error) {
	cfs, err := rootfs.New(dir, nil)
	if err != nil {
		return nil, err
	}
	defer cfs.Close()
	if err := rootfs.ExtractTar(cfs, "/", r, rootfs.ExtractOptions{}); err != nil {
		if errors.Is(err, rootfs.ErrUnsafeEntry) {
			return nil, errdefs.InvalidParameterf("build context: %v", err)
		}
		return nil, errdefs.InvalidParameterf("build context is not a valid tar archive: %v", err)
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	df, err := cfs.ReadFile(rootfs.Abs("/", dockerfile))
	if errors.Is(err, fs.ErrNotExist) && dockerfile == "Dockerfile" {
		df, err = cfs.ReadFile("/dockerfile")
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.InvalidParameterf("Cannot locate specified Dockerfile: %s", dockerfile)
		}
		return nil, errdefs.InvalidParameterf("reading Dockerfile %s: %v", dockerfile, err)
	}
	ign, err := cfs.ReadFile("/.dockerignore")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return df, nil
		}
		return nil, err
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(ign))
	if err != nil {
		return nil, errdefs.InvalidParameterf("reading .dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, errdefs.InvalidParameterf(".dockerignore: %v", err)
	}
	var drop []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		ok, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if ok {
			drop = append(drop, "/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Children are dropped before their parents; a parent matched while a
	// child is re-included with "!" keeps the child.
	for i := len(drop) - 1; i >= 0; i-- {
		if err := cfs.Remove(drop[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if fi, serr := cfs.Lstat(drop[i]); serr == nil && fi.IsDir() {
				continue // a directory still holding re-included files
			}
			return nil, err
		}
	}
	return df, nil
}

// hasMeta reports whether a COPY source is a wildcard pattern.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// expandSources resolves COPY sources, relative to the root of src (the
// context or another stage), into container paths; wildcards are matched
// with path.Match against every entry.
func expandSources(src *rootfs.FS, srcDir string, patterns []string) ([]string, error) {
	var out []string
	for _, pat := range patterns {
		p := path.Clean("/" + pat)
		if !hasMeta(p) {
			if _, err := src.Lstat(p); err != nil {
				return nil, errdefs.InvalidParameterf("COPY failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", strings.TrimPrefix(p, "/"))
			}
			out = append(out, p)
			continue
		}
		n := 0
		err := filepath.WalkDir(srcDir, func(hp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(srcDir, hp)
			cp := "/" + filepath.ToSlash(rel)
			if ok, _ := path.Match(p, cp); ok && rel != "." {
				out = append(out, cp)
				n++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errdefs.InvalidParameterf("COPY failed: no source files were specified: %s matches nothing", pat)
		}
	}
	return out, nil
}

// copyInto copies the container path srcPath of src to dst following
// COPY's rules: a directory's contents go into dest; a file goes to dest
// itself, or into it when dest is a directory (or ends in "/"). Every read
// is confined to src's root and every write to dst's. chmod, when not
// zero, replaces the copied entries' permission bits.
func copyInto(src, dst *rootfs.FS, srcPath, dest string, destIsDir bool, chmod fs.FileMode) error {
	fi, err := src.Lstat(srcPath)
	if err != nil {
		return err
	}
	into, name := dest, "."
	if !fi.IsDir() {
		if destIsDir {
			name = path.Base(srcPath)
		} else {
			into, name = path.Dir(dest), path.Base(dest)
		}
	}
	if err := dst.MkdirAll(into, 0o755); err != nil {
		return fmt.Errorf("COPY: %s: %w", into, err)
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tarTree(tw, src, srcPath, name, chmod)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = rootfs.ExtractTar(dst, into, pr, rootfs.ExtractOptions{})
	pr.CloseWithError(err)
	return err
}

// tarTree writes srcPath of f (and, for a directory, everything below it)
// under the entry name name.
func tarTree(tw *tar.Writer, f *rootfs.FS, srcPath, name string, chmod fs.FileMode) error {
	fi, err := f.Lstat(srcPath)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = f.Readlink(srcPath); err != nil {
			return err
		}
	} else if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if chmod != 0 && fi.Mode()&fs.ModeSymlink == 0 {
		hdr.Mode = int64(chmod.Perm())
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.Format = tar.FormatPAX
	if name != "." {
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	switch {
	case fi.Mode().IsRegular():
		fh, err := f.Open(srcPath)
		if err != nil {
			return err
		}
		defer fh.Close()
		_, err = io.CopyN(tw, fh, fi.Size())
		return err
	case fi.IsDir():
		ents, err := f.ReadDir(srcPath)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := tarTree(tw, f, path.Join(srcPath, e.Name()), path.Join(name, e.Name()), chmod); err != nil {
				return err
			}
		}
	}
	return nil
}

// isArchive reports whether the file at p of f is a tar archive
// (gzip-compressed or not), for ADD's automatic extraction.
func isArchive(f *rootfs.FS, p string) bool {
	fh, err := f.Open(p)
	if err != nil {
		return false
	}
	defer fh.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(fh, head)
	head = head[:n]
	if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	return n >= 262 && string(head[257:262]) == "ustar"
}
