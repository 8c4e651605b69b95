package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseEmbedded drops the resident pages of s, a string embedded in the
// binary, from the process. Read-only data is mapped from the executable,
// so the kernel reads a page back from the file if it is touched again:
// the contents never change, only the resident set shrinks (by the 6 MB of
// the applet module, which is decoded once at start-up and copied).
func releaseEmbedded(s string) {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	page := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	first := (start+page-1)&^(page-1) - start // offsets of the whole pages in b
	last := (start+uintptr(len(s)))&^(page-1) - start
	if last <= first {
		return
	}
	// Best effort: a failure leaves the pages resident, nothing else.
	_ = unix.Madvise(b[first:last], unix.MADV_DONTNEED)
}
