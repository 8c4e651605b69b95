package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/sockerless/sockerless/providers/memory/rootfs"
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
// /bin/busybox and, in /bin, a symlink to it for every applet and shell
// the sandbox provides (plus /usr/bin/env), so that `[ -x /bin/sh ]`,
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
	for _, l := range links {
		if _, err := f.Lstat(l); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := f.Symlink(busyboxPath, l); err != nil {
			return fmt.Errorf("sandbox: install applets: %w", err)
		}
	}
	return nil
}
