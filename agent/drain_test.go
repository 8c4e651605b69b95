package agent

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDrainOutput: DrainOutput returns once a pipe's reader has read
// what was written (the pipe is then empty), and does not wait on a
// file that is not a pipe (an hour's bound would hang the test).
func TestDrainOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.Write([]byte("last line\n")); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.ReadFull(r, make([]byte, 10)) }()
	DrainOutput(time.Hour, w)
	if n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ); err != nil || n != 0 {
		t.Errorf("after DrainOutput the pipe holds %d bytes (%v), want 0", n, err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("x"))
	DrainOutput(time.Hour, f)
}
