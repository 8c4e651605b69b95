package sandbox

import "github.com/tetratelabs/wazero/experimental"

// sliceMemory backs a WebAssembly linear memory with a Go slice whose
// capacity at least doubles when it must grow. Go's runtime grows its
// memory in many small steps while it starts; wazero's own growth copies
// the memory (and a zeroed delta) on almost every step, which was a third
// of an applet's start.
type sliceMemory struct{ buf []byte }

// growingAllocator returns sliceMemory linear memories.
func growingAllocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		return &sliceMemory{buf: make([]byte, 0, capacity)}
	})
}

// Reallocate implements experimental.LinearMemory. Bytes past the length
// were zeroed by make and never exposed, so growing within the capacity
// needs no clearing.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	nb := make([]byte, size, max(size, 2*uint64(cap(m.buf))))
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *sliceMemory) Free() { m.buf = nil }
