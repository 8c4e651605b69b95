package sandbox

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/experimental"
)

// sliceMemory backs a WebAssembly linear memory with a Go slice whose
// capacity at least doubles when it must grow. Go's runtime grows its
// memory in many small steps while it starts; wazero's own growth copies
// the memory (and a zeroed delta) on almost every step, which was a third
// of an applet's start.
type sliceMemory struct {
	buf  []byte
	pool *memoryPool // nil: never recycled
	ctr  *Container  // charged for the memory; nil: nobody
	// charged is what ctr was charged: the memory's largest length.
	charged int64
}

// Reallocate implements experimental.LinearMemory. Bytes past the length
// are zero (made so, or cleared before reuse) and never exposed, so
// growing within the capacity needs no clearing.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	// The container pays for the memory's length, what the guest can
	// touch (as a cgroup charges touched pages); the spare capacity of a
	// doubled buffer is not resident until used.
	if m.ctr != nil && int64(size) > m.charged {
		if !m.ctr.chargeMemory(&m.ctr.wasmMem, int64(size)-m.charged) {
			// Past the container's memory limit: the container is
			// killed; memory.grow fails meanwhile.
			m.ctr.oomKill()
			return nil
		}
		m.charged = int64(size)
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	newCap := max(size, 2*uint64(cap(m.buf)))
	if lim := m.limit(); lim > 0 && newCap > lim {
		newCap = max(size, lim) // no spare capacity past what may be used
	}
	nb := make([]byte, size, newCap)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// limit is the most this memory may grow to under its container's
// limit (0: no limit).
func (m *sliceMemory) limit() uint64 {
	if m.ctr == nil || m.ctr.memoryLimit() <= 0 {
		return 0
	}
	return uint64(m.ctr.memoryLimit())
}

// Free implements experimental.LinearMemory. It keeps the buffer: wazero
// frees a memory while the guest is still unwinding (proc_exit) or, for a
// close from elsewhere, possibly still running, so only the goroutine that
// ran the instance knows when the buffer is safe to reuse ([sliceMemory.recycle]).
func (m *sliceMemory) Free() {}

// recycle gives the buffer to the pool. Call it only on the goroutine that
// called into the instance, after the call returned and the module was
// closed: no guest code can touch the buffer any more.
func (m *sliceMemory) recycle() {
	if m == nil { // the module has no memory
		return
	}
	if m.ctr != nil {
		m.ctr.chargeMemory(&m.ctr.wasmMem, -m.charged)
		m.ctr, m.charged = nil, 0
	}
	if m.pool != nil && m.buf != nil {
		m.pool.put(m.buf)
	}
	m.buf = nil
}

// memoryPool recycles the linear memories of finished instances. Every
// applet is a fresh Go runtime that starts by filling a few MiB of memory;
// a recycled buffer is already faulted in and big enough, where a new one
// is zeroed by make and then copied once or twice as the runtime grows it.
// Buffers are cleared off the instance's path, on a goroutine, and the
// pool empties itself after [poolIdle] without use so an idle sandbox
// holds nothing.
type memoryPool struct {
	mu      sync.Mutex
	clean   [][]byte // zeroed, length 0
	pending int      // being cleared
	gen     uint64   // bumped by release: buffers cleared before it are dropped
	timer   *time.Timer

	keep   int    // buffers kept at most
	maxCap uint64 // larger buffers are not kept
	minCap uint64 // capacity of a new buffer at least
}

// poolIdle is how long the pool keeps buffers nobody asks for.
const poolIdle = time.Second

func newMemoryPool() *memoryPool {
	p := &memoryPool{keep: 4, maxCap: 64 << 20, minCap: 8 << 20}
	p.timer = time.AfterFunc(time.Hour, p.drain)
	p.timer.Stop()
	return p
}

// allocator returns a wazero allocator for one instance that records the
// memory it hands out in *mem, so the caller can recycle it.
func (p *memoryPool) allocator(c *Container, mem **sliceMemory) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		m := &sliceMemory{buf: p.get(capacity), pool: p, ctr: c}
		*mem = m
		return m
	})
}

// get returns a zeroed buffer of length 0 and at least the capacity asked.
func (p *memoryPool) get(capacity uint64) []byte {
	p.mu.Lock()
	for i := len(p.clean) - 1; i >= 0; i-- {
		if b := p.clean[i]; uint64(cap(b)) >= capacity {
			p.clean = append(p.clean[:i], p.clean[i+1:]...)
			p.timer.Reset(poolIdle)
			p.mu.Unlock()
			return b
		}
	}
	p.mu.Unlock()
	return make([]byte, 0, max(capacity, p.minCap))
}

// put clears buf in the background and keeps it, if there is room.
func (p *memoryPool) put(buf []byte) {
	if uint64(cap(buf)) > p.maxCap || cap(buf) == 0 {
		return
	}
	p.mu.Lock()
	if len(p.clean)+p.pending >= p.keep {
		p.mu.Unlock()
		return
	}
	p.pending++
	gen := p.gen
	p.mu.Unlock()
	go func() {
		clear(buf) // the whole length the instance could have written
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pending--
		if p.gen == gen {
			p.clean = append(p.clean, buf[:0])
			p.timer.Reset(poolIdle)
		}
	}()
}

// release drops every kept buffer (and those being cleared) and reports
// how many it dropped.
func (p *memoryPool) release() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	dropped := len(p.clean)
	p.clean = nil
	p.gen++
	return dropped
}

// drain releases the kept buffers and returns them to the OS.
func (p *memoryPool) drain() {
	if p.release() > 0 {
		debug.FreeOSMemory()
	}
}

// stop releases the kept buffers and stops the timer, for good.
func (p *memoryPool) stop() {
	p.timer.Stop()
	p.release()
}
