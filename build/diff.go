package build

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// fileState is what a snapshot records of one entry: enough to notice any
// change of content, metadata or type (ctime moves on every change).
type fileState struct {
	mode         fs.FileMode
	size         int64
	mtime, ctime int64
	ino          uint64
	link         string
}

// snapshot is the state of every entry below a root, by slash path
// relative to it ("etc/hosts").
type snapshot map[string]fileState

// excluded are paths Docker bind-mounts into build containers and never
// commits.
var excluded = map[string]bool{"etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true}

// takeSnapshot walks root without following symlinks.
func takeSnapshot(root string) (snapshot, error) {
	s := snapshot{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fileState{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			st.ctime = sys.Ctim.Nano()
			st.ino = sys.Ino
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			st.link, _ = os.Readlink(p)
		}
		s[filepath.ToSlash(rel)] = st
		return nil
	})
	return s, err
}

// change is one entry of a layer: an added or changed path, or a removed
// one (a whiteout).
type change struct {
	path    string
	removed bool
}

// diffSnapshots lists what changed from before to after, parents before
// children; a removed directory is one whiteout, its children are not
// listed.
func diffSnapshots(before, after snapshot) []change {
	var out []change
	for p, st := range after {
		if excluded[p] {
			continue
		}
		if old, ok := before[p]; !ok || old != st {
			// A directory whose only change is a child's arrival is still
			// listed, so its mode and time travel with the layer.
			out = append(out, change{path: p})
		}
	}
	for p := range before {
		if _, ok := after[p]; ok || excluded[p] {
			continue
		}
		if dir := path.Dir(p); dir != "." {
			if _, gone := after[dir]; !gone {
				if _, was := before[dir]; was {
					continue // the parent's whiteout covers it
				}
			}
		}
		out = append(out, change{path: p, removed: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// writeLayer writes the changes as a layer tar read from root: regular
// files, directories and symlinks as they are, removals as ".wh." files.
// Files are opened through an os.Root, so nothing outside root is read.
func writeLayer(w io.Writer, root string, changes []change) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	tw := tar.NewWriter(w)
	for _, c := range changes {
		if c.removed {
			wh := path.Join(path.Dir(c.path), ".wh."+path.Base(c.path))
			if err := tw.WriteHeader(&tar.Header{Name: wh, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX}); err != nil {
				return err
			}
			continue
		}
		fi, err := r.Lstat(c.path)
		if err != nil {
			return err
		}
		if err := addEntry(tw, r, c.path, c.path, fi); err != nil {
			return err
		}
	}
	return tw.Close()
}

// addEntry writes one entry named name from src (a path in r).
func addEntry(tw *tar.Writer, r *os.Root, src, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = r.Readlink(src); err != nil {
			return err
		}
	} else if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil // devices, sockets, FIFOs: not carried in layers here
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = strings.TrimPrefix(name, "/")
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.AccessTime, hdr.ChangeTime = fi.ModTime(), fi.ModTime()
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := r.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}
