package treesync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"golang.org/x/sys/unix"
)

// readDir returns the carried entries of directory p under root in name
// order. On Linux it lists names only and stats each one with fstatat on
// the directory's descriptor into one reused buffer: os.File.ReadDir on a
// file opened through an os.Root does the same stat but allocates a
// FileInfo and a DirEntry per name, which on a 10,000-file tree was a
// large share of a carry's time outside the kernel.
func readDir(root *os.Root, p string) ([]Entry, error) {
	ents, _, err := listDir(root, p, nil, nil)
	return ents, err
}

// listDir is readDir that also calls before (when not nil) with the open
// directory before it is read, and returns, for each entry, whether it is
// a regular file with more than one link. With names not nil only those
// names are looked at (missing ones left out), in the order given.
func listDir(root *os.Root, p string, names []string, before func(*os.File) error) ([]Entry, []bool, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("treesync: open %s: %w", p, err)
	}
	defer f.Close()
	if before != nil {
		if err := before(f); err != nil {
			return nil, nil, err
		}
	}
	if names == nil {
		if names, err = f.Readdirnames(-1); err != nil {
			return nil, nil, fmt.Errorf("treesync: read directory %s: %w", p, err)
		}
		sort.Strings(names)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, fmt.Errorf("treesync: read directory %s: %w", p, err)
	}
	ents := make([]Entry, 0, len(names))
	var linked []bool
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		for _, name := range names {
			err := unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW)
			if errors.Is(err, unix.ENOENT) {
				continue // removed while we walked
			}
			if err != nil {
				serr = fmt.Errorf("treesync: %w", &fs.PathError{Op: "lstat", Path: path.Join(p, name), Err: err})
				return
			}
			e := Entry{Path: path.Join(p, name)}
			perm := fs.FileMode(st.Mode & 0o777)
			if st.Mode&unix.S_ISUID != 0 {
				perm |= fs.ModeSetuid
			}
			if st.Mode&unix.S_ISGID != 0 {
				perm |= fs.ModeSetgid
			}
			if st.Mode&unix.S_ISVTX != 0 {
				perm |= fs.ModeSticky
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				e.Type, e.Mode, e.Size, e.Mtime = File, perm, st.Size, st.Mtim.Nano()
				if st.Nlink > 1 {
					if linked == nil {
						linked = make([]bool, len(names))
					}
					linked[len(ents)] = true
				}
			case unix.S_IFDIR:
				e.Type, e.Mode = Dir, perm
			case unix.S_IFLNK:
				e.Type = Symlink
			default:
				continue // FIFOs, sockets, devices are not carried
			}
			ents = append(ents, e)
		}
	})
	if cerr != nil {
		return nil, nil, fmt.Errorf("treesync: read directory %s: %w", p, cerr)
	}
	if serr != nil {
		return nil, nil, serr
	}
	for i := range ents {
		if ents[i].Type != Symlink {
			continue
		}
		t, err := root.Readlink(ents[i].Path)
		if err != nil {
			return nil, nil, fmt.Errorf("treesync: %w", err)
		}
		ents[i].Target = t
	}
	if linked != nil {
		linked = linked[:len(ents)]
	}
	return ents, linked, nil
}
