package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// SkeletonOptions tunes [Skeleton].
type SkeletonOptions struct {
	// Hostname goes to /etc/hostname and /etc/hosts; empty means "sandbox".
	Hostname string
	// ExtraHosts are "name:ip" pairs appended to /etc/hosts.
	ExtraHosts []string
}

// skeletonDirs are created when missing, with their modes.
func skeletonDirs() []struct {
	path string
	mode fs.FileMode
} {
	return []struct {
		path string
		mode fs.FileMode
	}{
		{"/bin", 0o755}, {"/dev", 0o755}, {"/etc", 0o755}, {"/home", 0o755},
		{"/proc", 0o555}, {"/root", 0o700}, {"/sbin", 0o755}, {"/tmp", 0o777 | fs.ModeSticky},
		{"/usr", 0o755}, {"/usr/bin", 0o755}, {"/usr/local", 0o755}, {"/usr/local/bin", 0o755},
		{"/usr/sbin", 0o755}, {"/var", 0o755}, {"/var/tmp", 0o777 | fs.ModeSticky},
	}
}

// Skeleton makes f look like a minimal Linux root: the usual directories,
// /etc/passwd and /etc/group (only when absent, so an image's own win),
// /etc/hostname, /etc/hosts and /etc/resolv.conf (always written, as
// Docker bind-mounts its own over the image's), and an
// empty /dev/null placeholder (the sandbox serves /dev/null itself).
func Skeleton(f *FS, o SkeletonOptions) error {
	host := o.Hostname
	if host == "" {
		host = "sandbox"
	}
	for _, d := range skeletonDirs() {
		if err := f.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("rootfs: skeleton: %w", err)
		}
		if d.mode&fs.ModeSticky != 0 {
			// MkdirAll's mode is masked by the host umask.
			if err := f.Chmod(d.path, d.mode); err != nil {
				return fmt.Errorf("rootfs: skeleton: %w", err)
			}
		}
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + host + "\n"
	for _, h := range o.ExtraHosts {
		if name, ip, ok := strings.Cut(h, ":"); ok {
			hosts += ip + "\t" + name + "\n"
		}
	}
	files := []struct {
		path, data string
		always     bool
	}{
		{"/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", false},
		{"/etc/group", "root:x:0:\nnogroup:x:65534:\n", false},
		{"/etc/hostname", host + "\n", true},
		{"/etc/hosts", hosts, true},
		{"/etc/resolv.conf", "nameserver 127.0.0.11\n", true},
		{"/dev/null", "", false},
	}
	for _, fl := range files {
		if !fl.always {
			if _, err := f.Lstat(fl.path); err == nil {
				continue
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("rootfs: skeleton: %w", err)
			}
		}
		// Never write through a symlink an image planted at this path.
		if err := f.Remove(fl.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rootfs: skeleton: %w", err)
		}
		if err := f.WriteFile(fl.path, []byte(fl.data), 0o644); err != nil {
			return fmt.Errorf("rootfs: skeleton: %w", err)
		}
	}
	return nil
}
