//go:build unix

package sandbox

import "syscall"

// diskSpace reports the size, free and available bytes of the filesystem
// holding dir.
func diskSpace(dir string) (total, free, avail uint64, ok bool) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, 0, 0, false
	}
	bs := uint64(st.Bsize)
	return st.Blocks * bs, st.Bfree * bs, st.Bavail * bs, true
}
