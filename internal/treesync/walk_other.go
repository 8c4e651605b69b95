//go:build !linux

package treesync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
)

// readDir returns the carried entries of directory p under root in name
// order (one lstat per entry, relative to the directory opened through
// root).
func readDir(root *os.Root, p string) ([]Entry, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("treesync: open %s: %w", p, err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("treesync: read directory %s: %w", p, err)
	}
	sort.Slice(des, func(i, j int) bool { return des[i].Name() < des[j].Name() })
	ents := make([]Entry, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we walked
		}
		if err != nil {
			return nil, fmt.Errorf("treesync: %w", err)
		}
		e, ok, err := entryOf(root, path.Join(p, de.Name()), fi)
		if err != nil {
			return nil, err
		}
		if ok {
			ents = append(ents, e)
		}
	}
	return ents, nil
}

func entryOf(root *os.Root, name string, fi fs.FileInfo) (Entry, bool, error) {
	e := Entry{Path: name}
	switch {
	case fi.Mode().IsRegular():
		e.Type, e.Mode, e.Size, e.Mtime = File, fi.Mode()&modeBits, fi.Size(), fi.ModTime().UnixNano()
	case fi.IsDir():
		e.Type, e.Mode = Dir, fi.Mode()&modeBits
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := root.Readlink(name)
		if err != nil {
			return e, false, fmt.Errorf("treesync: %w", err)
		}
		e.Type, e.Target = Symlink, t
	default:
		return e, false, nil
	}
	return e, true, nil
}
