package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// defaultSocketDir is the folder of the default socket when
// XDG_RUNTIME_DIR is unset: sockerless-$UID under the temporary folder
// (/tmp unless TMPDIR says otherwise), which anyone can create first.
func defaultSocketDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("sockerless-%d", os.Getuid()))
}

// privateDir makes dir (mode 0700) if it is missing and refuses one that
// another user could have prepared to take over the socket: it must be a
// real folder (not a symlink), owned by this user, and closed to group
// and others. Another user who made it first would otherwise own the
// socket's folder, replace the socket, and receive this user's requests.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder (a symlink or file made by someone else?); remove it or set %sLISTEN", dir, envPrefix)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d): another user could take over the socket; remove it or set %sLISTEN", dir, st.Uid, os.Getuid(), envPrefix)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: group and others must have no access (0700), or another user could take over the socket; fix it (chmod 700) or set %sLISTEN", dir, fi.Mode().Perm(), envPrefix)
	}
	return nil
}
