//go:build !wasip1

package main

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Host stand-ins so applet logic can be unit-tested natively.

func sysChmod(p string, mode fs.FileMode) error { return os.Chmod(p, mode) }

// newHash is Go's own hash natively.
func newHash(algo int) (hash.Hash, error) {
	switch algo {
	case hashMD5:
		return md5.New(), nil
	case hashSHA1:
		return sha1.New(), nil
	case hashSHA256:
		return sha256.New(), nil
	case hashSHA512:
		return sha512.New(), nil
	}
	return nil, errors.New("unknown hash algorithm")
}

// sysInfo answers natively what the sandbox answers in WebAssembly: this
// machine, its CPUs, the filesystem of "/"; processes are not listed.
func sysInfo(kind int) string {
	switch kind {
	case infoMachine:
		switch runtime.GOARCH {
		case "amd64":
			return "x86_64"
		case "arm64":
			return "aarch64"
		}
		return runtime.GOARCH
	case infoCPUs:
		return strconv.Itoa(runtime.NumCPU())
	case infoDisk:
		var st syscall.Statfs_t
		if syscall.Statfs("/", &st) != nil {
			return ""
		}
		bs := uint64(st.Bsize)
		return fmt.Sprintf("%d %d %d", st.Blocks*bs, st.Bfree*bs, st.Bavail*bs)
	}
	return ""
}

// isatty is false natively: the unit tests run without a terminal.
func isatty(int) bool { return false }

func sysStat(p string, follow bool) (statInfo, error) {
	var st syscall.Stat_t
	var err error
	if follow {
		err = syscall.Stat(p, &st)
	} else {
		err = syscall.Lstat(p, &st)
	}
	if err != nil {
		return statInfo{}, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return statInfo{mode: st.Mode, uid: st.Uid, gid: st.Gid, nlink: uint32(st.Nlink)}, nil
}

func spawn(e *env, argv, envv []string, dir string, flags uint32, timeout time.Duration) int {
	_ = e.flush()
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = envv, dir
	if flags&spawnFlagNullStdin == 0 {
		cmd.Stdin = e.in
	}
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	err := cmd.Run()
	_ = e.flush()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 127
}

func ids() (int, int) { return os.Getuid(), os.Getgid() }

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
