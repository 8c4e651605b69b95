package sandbox

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/rootfs"
)

// TestSliceMemory: growing keeps the contents, exposes zeroed bytes, and
// copies only when the capacity runs out (it at least doubles).
func TestSliceMemory(t *testing.T) {
	var mem *sliceMemory
	m := (&memoryPool{}).allocator(nil, &mem).Allocate(0, 1<<30)
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

// TestMemoryPoolRecycles: a recycled buffer comes back zeroed, including
// everything the previous instance wrote, and with its capacity; buffers
// beyond the limits are not kept; the pool empties itself when unused.
func TestMemoryPoolRecycles(t *testing.T) {
	p := newMemoryPool()
	defer p.stop()
	var mem *sliceMemory
	m := p.allocator(nil, &mem).Allocate(1<<20, 1<<30)
	buf := m.Reallocate(3 << 20)
	for i := range buf {
		buf[i] = 0xff
	}
	first := &buf[:1][0]
	m.Free() // wazero frees while the guest unwinds; nothing is reused yet
	if len(p.clean) != 0 || p.pending != 0 {
		t.Fatal("Free alone recycled the buffer")
	}
	mem.recycle()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.clean) == 1 })

	var again *sliceMemory
	buf = p.allocator(nil, &again).Allocate(1<<20, 1<<30).Reallocate(5 << 20)
	if &buf[0] != first {
		t.Error("the recycled buffer was not reused")
	}
	if !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Fatal("a recycled buffer holds the previous instance's bytes")
	}

	// Too large to keep.
	var big *sliceMemory
	p.allocator(nil, &big).Allocate(128<<20, 1<<30)
	big.recycle()
	time.Sleep(50 * time.Millisecond)
	if p.mu.Lock(); len(p.clean)+p.pending != 0 {
		t.Errorf("a 128 MiB buffer was kept")
	}
	p.mu.Unlock()

	// Unused, the pool drains itself.
	again.recycle()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.clean) == 1 })
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.clean) == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
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
