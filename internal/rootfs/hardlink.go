package rootfs

import (
	"archive/tar"
	"io/fs"
	"syscall"
)

// tarWriter is one WriteTar: the regular files with more than one name
// it has written, so a further name becomes a hard link as in Docker's
// archives (busybox's applets are hard links to one binary).
type tarWriter struct {
	f     *FS
	tw    *tar.Writer
	names map[fileID]string
}

type fileID struct{ dev, ino uint64 }

// hardLink reports the entry name under which the file fi was already
// written, or records name as its first.
func (w *tarWriter) hardLink(fi fs.FileInfo, name string) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || st.Nlink < 2 {
		return "", false
	}
	id := fileID{uint64(st.Dev), st.Ino}
	if first, ok := w.names[id]; ok {
		return first, true
	}
	if w.names == nil {
		w.names = map[fileID]string{}
	}
	w.names[id] = name
	return "", false
}
