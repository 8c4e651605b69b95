// Package rootfs is a container's filesystem as the memory provider sees it:
// a root directory on the host plus a table of mounts (named volumes and bind
// mounts) at container paths.
//
// Every path this package accepts is a path inside the container. Symbolic
// links are resolved by this package in the container's namespace, like a
// chroot: an absolute link target starts again at the container's "/", and
// ".." never climbs above it. The resolved path is then opened through an
// [os.Root] for the mount that holds it, so even a link swapped in between
// resolution and use (a race) cannot leave that mount's host directory.
// Nothing reachable through an [FS] lies outside the root and its mounts.
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxSymlinks bounds symlink expansion during one resolution, like Linux's
// MAXSYMLINKS.
const maxSymlinks = 40

// Mount places a host directory (or a single host file) at a path inside
// the container.
type Mount struct {
	// Target is the absolute path inside the container.
	Target string
	// Source is the host path: a directory, or a regular file.
	Source string
	// ReadOnly refuses every write through this mount with EROFS.
	ReadOnly bool
}

type mount struct {
	target string   // clean absolute container path
	root   *os.Root // the source directory, or the parent of a file source
	file   string   // base name within root for single-file mounts
	ro     bool
}

// FS is a container's root directory and mounts. It is safe for concurrent
// use. Close releases the directory handles it holds.
type FS struct {
	rootDir string
	mounts  []*mount // longest target first; the last one is "/"
}

// New opens rootDir as the container's "/" and mounts on top of it. Mount
// points missing from the root are created (an empty directory, or an empty
// file for a file mount) so that listings show them.
func New(rootDir string, mounts []Mount) (*FS, error) {
	r, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, fmt.Errorf("rootfs: open root: %w", err)
	}
	f := &FS{rootDir: rootDir, mounts: []*mount{{target: "/", root: r}}}
	for _, m := range mounts {
		if err := f.addMount(m); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return f, nil
}

func (f *FS) addMount(m Mount) error {
	target := path.Clean("/" + m.Target)
	if target == "/" {
		return fmt.Errorf("rootfs: mount %q over the root is not supported", m.Target)
	}
	src, err := filepath.EvalSymlinks(m.Source)
	if err != nil {
		return fmt.Errorf("rootfs: mount source for %s: %w", target, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("rootfs: mount source for %s: %w", target, err)
	}
	nm := &mount{target: target, ro: m.ReadOnly}
	dir := src
	if !st.IsDir() {
		dir, nm.file = filepath.Dir(src), filepath.Base(src)
	}
	// Create the mount point inside the container before the mount hides
	// it, resolving through the mounts added so far.
	if st.IsDir() {
		err = f.MkdirAll(target, 0o755)
	} else {
		err = f.MkdirAll(path.Dir(target), 0o755)
		if err == nil {
			var fh *os.File
			fh, err = f.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				err = fh.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("rootfs: create mount point: %w", err)
	}
	if nm.root, err = os.OpenRoot(dir); err != nil {
		return fmt.Errorf("rootfs: open mount source for %s: %w", target, err)
	}
	f.mounts = append(f.mounts, nm)
	sort.SliceStable(f.mounts, func(i, j int) bool { return len(f.mounts[i].target) > len(f.mounts[j].target) })
	return nil
}

// Close releases the root and mount handles.
func (f *FS) Close() error {
	var errs []error
	for _, m := range f.mounts {
		errs = append(errs, m.root.Close())
	}
	return errors.Join(errs...)
}

// SetReadOnlyRoot makes the root (not the mounts) read-only, as
// --read-only does: every write outside a mount then fails with EROFS.
func (f *FS) SetReadOnlyRoot() {
	for _, m := range f.mounts {
		if m.target == "/" {
			m.ro = true
		}
	}
}

// RootDir is the host directory holding the container's "/".
func (f *FS) RootDir() string { return f.rootDir }

// Mounts lists the mounts (not the root), longest target first.
func (f *FS) Mounts() []Mount {
	var out []Mount
	for _, m := range f.mounts {
		if m.target != "/" {
			out = append(out, Mount{Target: m.target, ReadOnly: m.ro})
		}
	}
	return out
}

// locate finds the mount holding the clean absolute container path p and
// p's path relative to that mount's root handle.
func (f *FS) locate(p string) (*mount, string, error) {
	for _, m := range f.mounts {
		switch {
		case p == m.target:
			if m.file != "" {
				return m, m.file, nil
			}
			return m, ".", nil
		case m.target == "/":
			return m, p[1:], nil
		case strings.HasPrefix(p, m.target) && p[len(m.target)] == '/':
			if m.file != "" {
				return nil, "", syscall.ENOTDIR
			}
			return m, p[len(m.target)+1:], nil
		}
	}
	return nil, "", syscall.ENOENT // unreachable: "/" matches everything
}

// Abs makes name an absolute, lexically clean container path, relative to
// dir when name is relative. No symlinks are resolved.
func Abs(dir, name string) string {
	if !strings.HasPrefix(name, "/") {
		name = dir + "/" + name
	}
	return path.Clean("/" + name)
}

// Resolve returns the container path name refers to with every symlink
// expanded (the final one too when follow is set). Relative names are
// relative to "/". A missing final component is not an error, so the result
// can be created; a missing directory on the way is.
func (f *FS) Resolve(name string, follow bool) (string, error) {
	if strings.HasSuffix(name, "/") {
		follow = true
	}
	cur := make([]string, 0, 8)
	todo := splitPath(name)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		cur = append(cur, c)
		last := len(todo) == 0
		if last && !follow {
			break
		}
		p := "/" + strings.Join(cur, "/")
		m, rel, err := f.locate(p)
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: err}
		}
		fi, err := m.root.Lstat(rel)
		if err != nil {
			if last && errors.Is(err, fs.ErrNotExist) {
				break
			}
			return "", &fs.PathError{Op: "resolve", Path: name, Err: underlying(err)}
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (m.file == "" || rel != m.file) {
			if links++; links > maxSymlinks {
				return "", &fs.PathError{Op: "resolve", Path: name, Err: syscall.ELOOP}
			}
			target, err := m.root.Readlink(rel)
			if err != nil {
				return "", &fs.PathError{Op: "resolve", Path: name, Err: underlying(err)}
			}
			cur = cur[:len(cur)-1]
			if strings.HasPrefix(target, "/") {
				cur = cur[:0]
			}
			todo = append(splitPath(target), todo...)
			continue
		}
		if !last && !fi.IsDir() {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: syscall.ENOTDIR}
		}
	}
	return "/" + strings.Join(cur, "/"), nil
}

func splitPath(p string) []string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// underlying strips the host-relative path from an os error so that host
// paths never reach the container.
func underlying(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: name, Err: underlying(err)}
}

// at resolves name and locates the result.
func (f *FS) at(op, name string, follow, write bool) (*mount, string, string, error) {
	p, err := f.Resolve(name, follow)
	if err != nil {
		return nil, "", "", pathErr(op, name, err)
	}
	m, rel, err := f.locate(p)
	if err != nil {
		return nil, "", "", pathErr(op, name, err)
	}
	if write && m.ro {
		return nil, "", "", pathErr(op, name, syscall.EROFS)
	}
	return m, rel, p, nil
}

const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_TRUNC | os.O_APPEND

// OpenFile opens the container path name like [os.OpenFile]. With
// [syscall.O_NOFOLLOW] or O_CREATE|O_EXCL a final symlink is not followed.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	follow := flag&syscall.O_NOFOLLOW == 0 && flag&(os.O_CREATE|os.O_EXCL) != os.O_CREATE|os.O_EXCL
	m, rel, _, err := f.at("open", name, follow, flag&writeFlags != 0)
	if err != nil {
		return nil, err
	}
	fh, err := m.root.OpenFile(rel, flag, perm)
	return fh, pathErr("open", name, err)
}

// Open opens name for reading.
func (f *FS) Open(name string) (*os.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// ReadFile reads the whole file name.
func (f *FS) ReadFile(name string) ([]byte, error) {
	fh, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(fh)
}

// WriteFile writes data to name, creating or truncating it.
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	fh, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	return errors.Join(err, fh.Close())
}

// Stat describes name, following symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	m, rel, _, err := f.at("stat", name, true, false)
	if err != nil {
		return nil, err
	}
	fi, err := m.root.Stat(rel)
	return fileInfo(fi, name), pathErr("stat", name, err)
}

// Lstat describes name without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	m, rel, _, err := f.at("lstat", name, false, false)
	if err != nil {
		return nil, err
	}
	fi, err := m.root.Lstat(rel)
	return fileInfo(fi, name), pathErr("lstat", name, err)
}

// fileInfo makes a mount root report the container's base name rather than
// "." or the host's.
func fileInfo(fi fs.FileInfo, name string) fs.FileInfo {
	if fi == nil {
		return nil
	}
	return namedInfo{fi, path.Base(path.Clean("/" + name))}
}

type namedInfo struct {
	fs.FileInfo
	name string
}

func (n namedInfo) Name() string { return n.name }

// ReadDir lists the directory name sorted by file name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	fh, err := f.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	ents, err := fh.ReadDir(-1)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, nil
}

// Mkdir creates the directory name.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	m, rel, _, err := f.at("mkdir", name, false, true)
	if err != nil {
		return err
	}
	if err := m.root.Mkdir(rel, perm.Perm()); err != nil {
		return pathErr("mkdir", name, err)
	}
	if special := perm & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); special != 0 {
		return pathErr("mkdir", name, m.root.Chmod(rel, perm))
	}
	return nil
}

// MkdirAll creates name and any missing parents.
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	p := "/"
	for _, c := range splitPath(path.Clean("/" + name)) {
		p = path.Join(p, c)
		fi, err := f.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return pathErr("mkdir", p, syscall.ENOTDIR)
			}
			continue
		}
		if err := f.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// Remove removes the file or empty directory name (not following a final
// symlink). Mount points cannot be removed (EBUSY).
func (f *FS) Remove(name string) error {
	m, rel, _, err := f.at("remove", name, false, true)
	if err != nil {
		return err
	}
	if rel == "." || rel == m.file {
		return pathErr("remove", name, syscall.EBUSY)
	}
	return pathErr("remove", name, m.root.Remove(rel))
}

// RemoveAll removes name and everything below it. Mounts below name keep
// their contents; only the mount points inside the root go.
func (f *FS) RemoveAll(name string) error {
	m, rel, _, err := f.at("remove", name, false, true)
	if err != nil {
		return err
	}
	if rel == "." || rel == m.file {
		return pathErr("remove", name, syscall.EBUSY)
	}
	return pathErr("remove", name, m.root.RemoveAll(rel))
}

// Rename renames oldname to newname. Renames between different mounts fail
// with EXDEV, as on Linux; callers such as mv copy and delete instead.
func (f *FS) Rename(oldname, newname string) error {
	m1, r1, _, err := f.at("rename", oldname, false, true)
	if err != nil {
		return err
	}
	m2, r2, _, err := f.at("rename", newname, false, true)
	if err != nil {
		return err
	}
	if m1 != m2 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EXDEV}
	}
	if err := m1.root.Rename(r1, r2); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: underlying(err)}
	}
	return nil
}

// Link makes newname a hard link to oldname, within one mount (else EXDEV).
func (f *FS) Link(oldname, newname string) error {
	m1, r1, _, err := f.at("link", oldname, false, false)
	if err != nil {
		return err
	}
	m2, r2, _, err := f.at("link", newname, false, true)
	if err != nil {
		return err
	}
	if m1 != m2 {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EXDEV}
	}
	if err := m1.root.Link(r1, r2); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: underlying(err)}
	}
	return nil
}

// Symlink creates newname as a symbolic link to target. The target is
// stored as given, absolute or relative; it is only ever resolved inside the
// container.
func (f *FS) Symlink(target, newname string) error {
	m, rel, _, err := f.at("symlink", newname, false, true)
	if err != nil {
		return err
	}
	if err := m.root.Symlink(target, rel); err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: newname, Err: underlying(err)}
	}
	return nil
}

// Readlink returns the target of the symbolic link name.
func (f *FS) Readlink(name string) (string, error) {
	m, rel, _, err := f.at("readlink", name, false, false)
	if err != nil {
		return "", err
	}
	t, err := m.root.Readlink(rel)
	return t, pathErr("readlink", name, err)
}

// Chmod changes the mode of name (following symlinks).
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	m, rel, _, err := f.at("chmod", name, true, true)
	if err != nil {
		return err
	}
	return pathErr("chmod", name, m.root.Chmod(rel, mode))
}

// Chtimes changes the access and modification times of name.
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	m, rel, _, err := f.at("chtimes", name, true, true)
	if err != nil {
		return err
	}
	return pathErr("chtimes", name, m.root.Chtimes(rel, atime, mtime))
}

// Lchown changes the numeric owner of name without following a final
// symlink. Without privileges on the host this fails with EPERM.
func (f *FS) Lchown(name string, uid, gid int) error {
	m, rel, _, err := f.at("chown", name, false, true)
	if err != nil {
		return err
	}
	return pathErr("chown", name, m.root.Lchown(rel, uid, gid))
}
