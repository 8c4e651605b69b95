package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// busyboxPath is the multi-call binary's place in a root given the
// busybox layout by [Sandbox.InstallApplets].
const busyboxPath = "/bin/busybox"

// busyboxText is what /bin/busybox holds: the sandbox runs the applet
// named by a path in a standard bin directory whatever the file there
// contains, so the file only has to exist and be executable.
const busyboxText = "# sockerless sandbox: the applets are built into the runtime (see docs/sandbox.md)\n"

// InstallApplets gives a root that has no image content (an image
// recorded without layers) the layout of a busybox image: an executable
// /bin/busybox and, in /bin, a hard link to it for every applet and shell
// the sandbox provides (plus /usr/bin/env), as the busybox image has
// them (hard links cost a directory entry; 80 symlinks, 80 inodes, took
// 20 ms of every container create), so that `[ -x /bin/sh ]`,
// `ls /bin`, `command -v` and `which` see what the sandbox runs. Entries
// already present are left alone.
func (s *Sandbox) InstallApplets(f *rootfs.FS) error {
	for _, d := range []string{"/bin", "/usr/bin"} {
		if err := f.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox: install applets: %w", err)
		}
	}
	if _, err := f.Lstat(busyboxPath); errors.Is(err, fs.ErrNotExist) {
		if err := f.WriteFile(busyboxPath, []byte(busyboxText), 0o755); err != nil {
			return fmt.Errorf("sandbox: install applets: %w", err)
		}
		if err := f.Chmod(busyboxPath, 0o755); err != nil {
			return fmt.Errorf("sandbox: install applets: %w", err)
		}
	}
	links := []string{"/usr/bin/env"}
	for _, n := range s.Applets() {
		if n != "busybox" {
			links = append(links, path.Join("/bin", n))
		}
	}
	if installFast(f, links) == nil {
		return nil
	}
	for _, l := range links {
		if _, err := f.Lstat(l); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := f.Link(busyboxPath, l); err != nil {
			return fmt.Errorf("sandbox: install applets: %w", err)
		}
	}
	return nil
}

// installFast makes the links with one os.Root (one directory listing
// and one link call per link instead of a resolution per path) when no mount covers /bin or
// /usr/bin and both are plain directories. Any error sends the caller to
// the path-by-path way.
func installFast(f *rootfs.FS, links []string) error {
	for _, m := range f.Mounts() {
		if t := strings.TrimSuffix(m.Target, "/"); t == "" || t == "/bin" || t == "/usr" || t == "/usr/bin" {
			return errors.New("mounted")
		}
	}
	r, err := os.OpenRoot(f.RootDir())
	if err != nil {
		return err
	}
	defer r.Close()
	have := map[string]bool{}
	for _, d := range []string{"bin", "usr/bin"} {
		fi, err := r.Lstat(d)
		if err != nil || !fi.IsDir() {
			return errors.New("not a directory")
		}
		ents, err := fs.ReadDir(r.FS(), d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			have["/"+d+"/"+e.Name()] = true
		}
	}
	for _, l := range links {
		if have[l] {
			continue
		}
		if err := r.Link(strings.TrimPrefix(busyboxPath, "/"), strings.TrimPrefix(l, "/")); err != nil {
			return err
		}
	}
	return nil
}
