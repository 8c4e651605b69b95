package memory

import "syscall"

// fsType names the host filesystem holding dir as /proc/mounts does, for
// the container's mount table; "none" when unknown.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return "none"
	}
	switch uint64(st.Type) {
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlay"
	case 0x2fc12fc1:
		return "zfs"
	case 0x65735546:
		return "fuse"
	}
	return "none"
}
