//go:build wasip1

package main

import (
	"errors"
	"hash"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Host functions of the "sockerless" module (see package sandbox).

//go:wasmimport sockerless chmod
func hostChmod(path unsafe.Pointer, pathLen uint32, mode uint32) uint32

//go:wasmimport sockerless stat
func hostStat(path unsafe.Pointer, pathLen uint32, follow uint32, out unsafe.Pointer) uint32

//go:wasmimport sockerless spawn
func hostSpawn(argv unsafe.Pointer, argvLen uint32, env unsafe.Pointer, envLen uint32, dir unsafe.Pointer, dirLen uint32, flags uint32, timeoutMs uint64) uint32

//go:wasmimport sockerless ids
func hostIDs(out unsafe.Pointer) uint32

//go:wasmimport sockerless hash_new
func hostHashNew(algo uint32) uint32

//go:wasmimport sockerless hash_write
func hostHashWrite(h uint32, p unsafe.Pointer, n uint32) uint32

//go:wasmimport sockerless hash_sum
func hostHashSum(h uint32, out unsafe.Pointer) uint32

// newHash returns a message digest computed by the host: Go's hashes
// compiled to WebAssembly run at 10-20 MB/s (no assembly, no vector
// instructions), and leaving them out keeps Go's crypto packages out of
// the module. The data still comes through this applet's reads.
func newHash(algo int) (hash.Hash, error) {
	h := hostHashNew(uint32(algo))
	if h == 0 {
		return nil, errors.New("hash algorithm not available in this sandbox")
	}
	sz := hashSizes[algo]
	return &remoteHash{algo: uint32(algo), h: h, size: sz[0], block: sz[1]}, nil
}

// hashSizes are the digest and block sizes of each algorithm.
var hashSizes = map[int][2]int{hashMD5: {16, 64}, hashSHA1: {20, 64}, hashSHA256: {32, 64}, hashSHA512: {64, 128}}

// remoteHash is a hash.Hash whose state lives in the host.
type remoteHash struct {
	algo, h     uint32
	size, block int
}

func (r *remoteHash) Write(p []byte) (int, error) {
	if len(p) > 0 {
		hostHashWrite(r.h, unsafe.Pointer(&p[0]), uint32(len(p)))
	}
	return len(p), nil
}

func (r *remoteHash) Sum(b []byte) []byte {
	var out [64]byte
	n := hostHashSum(r.h, unsafe.Pointer(&out[0]))
	return append(b, out[:n]...)
}

func (r *remoteHash) Reset()         { r.h = hostHashNew(r.algo) }
func (r *remoteHash) Size() int      { return r.size }
func (r *remoteHash) BlockSize() int { return r.block }

//go:wasmimport sockerless info
func hostInfo(kind uint32, out unsafe.Pointer, capacity uint32) uint32

// sysInfo asks the sandbox for one kind of information (infoProcesses...).
func sysInfo(kind int) string {
	buf := make([]byte, 4096)
	for {
		n := hostInfo(uint32(kind), unsafe.Pointer(&buf[0]), uint32(len(buf)))
		if int(n) <= len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, n)
	}
}

//go:wasmimport sockerless isatty
func hostIsatty(fd uint32) uint32

// isatty reports whether file descriptor fd (0, 1 or 2) is the
// container's terminal (WASI cannot tell).
func isatty(fd int) bool { return hostIsatty(uint32(fd)) == 1 }

func absPath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	wd, err := syscall.Getwd()
	if err != nil {
		wd = "/"
	}
	return filepath.Join(wd, p)
}

func strPtr(s string) (unsafe.Pointer, uint32) {
	if s == "" {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

// sysChmod sets the permission bits of p (WASI has no chmod).
func sysChmod(p string, mode fs.FileMode) error {
	ap := absPath(p)
	ptr, n := strPtr(ap)
	if e := hostChmod(ptr, n, unixMode(mode)); e != 0 {
		return &fs.PathError{Op: "chmod", Path: p, Err: syscall.Errno(e)}
	}
	return nil
}

// sysStat returns the real st_mode, uid, gid and link count of p.
func sysStat(p string, follow bool) (st statInfo, err error) {
	ap := absPath(p)
	ptr, n := strPtr(ap)
	var out [4]uint32
	f := uint32(0)
	if follow {
		f = 1
	}
	if e := hostStat(ptr, n, f, unsafe.Pointer(&out[0])); e != 0 {
		return st, &fs.PathError{Op: "stat", Path: p, Err: syscall.Errno(e)}
	}
	return statInfo{mode: out[0], uid: out[1], gid: out[2], nlink: out[3]}, nil
}

// spawn runs argv as a new command of the container, sharing this
// applet's stdout and stderr (and stdin unless flagged), and returns its
// exit status. envv nil means inherit this applet's environment.
func spawn(e *env, argv, envv []string, dir string, flags uint32, timeout time.Duration) int {
	_ = e.flush()
	a := strings.Join(argv, "\x00")
	v := strings.Join(envv, "\x00")
	ap, an := strPtr(a)
	ep, en := strPtr(v)
	dp, dn := strPtr(dir)
	if envv != nil {
		flags |= spawnFlagEnv
	}
	code := hostSpawn(ap, an, ep, en, dp, dn, flags, uint64(timeout/time.Millisecond))
	return int(int32(code))
}

// ids returns the container user's uid and gid.
func ids() (uid, gid int) {
	var out [2]uint32
	hostIDs(unsafe.Pointer(&out[0]))
	return int(out[0]), int(out[1])
}
