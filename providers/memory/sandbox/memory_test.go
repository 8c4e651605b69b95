package sandbox

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/sockerless/sockerless/providers/memory/rootfs"
)

// TestSliceMemory: growing keeps the contents, exposes zeroed bytes, and
// copies only when the capacity runs out (it at least doubles).
func TestSliceMemory(t *testing.T) {
	m := growingAllocator().Allocate(0, 1<<30)
	buf := m.Reallocate(4)
	copy(buf, "wasm")
	copies := 0
	prev := &buf[0]
	for size := uint64(8); size <= 1<<20; size += 64 << 10 / 4 {
		buf = m.Reallocate(size)
		if uint64(len(buf)) != size || !bytes.Equal(buf[:4], []byte("wasm")) {
			t.Fatalf("Reallocate(%d): len %d, head %q", size, len(buf), buf[:4])
		}
		if !bytes.Equal(buf[4:], make([]byte, size-4)) {
			t.Fatalf("Reallocate(%d): grown bytes are not zero", size)
		}
		buf[size-1] = 0 // the last byte is writable
		if &buf[0] != prev {
			copies++
			prev = &buf[0]
		}
	}
	// 64 steps from 8 bytes to 1 MiB: doubling needs about 20 copies, not 64.
	if copies > 20 {
		t.Fatalf("%d copies for 64 grows", copies)
	}
	m.Free()
}

// TestRunningInstancesBalance: the idle release counts instances; every
// run, failed or not, must end its count, or the sandbox never goes idle.
func TestRunningInstancesBalance(t *testing.T) {
	ctx := context.Background()
	sb, err := New(ctx, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close(ctx)
	root, err := rootfs.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rootfs.Skeleton(root, rootfs.SkeletonOptions{Hostname: "t"}); err != nil {
		t.Fatal(err)
	}
	c := sb.NewContainer(root)
	for _, argv := range [][]string{{"true"}, {"false"}, {"sh", "-c", "echo a | wc -c; cat /nonexistent"}} {
		if _, err := c.Run(ctx, Process{Argv: argv, Stdout: io.Discard, Stderr: io.Discard}); err != nil {
			t.Fatal(err)
		}
		if n := sb.running.Load(); n != 0 {
			t.Fatalf("%v left %d instances counted as running", argv, n)
		}
	}
}
