// Package bufpipe is an in-memory pipe with a bounded buffer: writes return
// as soon as the bytes fit, block while the buffer is full (so a slow reader
// slows the writer and nothing is dropped), and reads see io.EOF after
// CloseWrite once the buffer drains.
package bufpipe

import (
	"io"
	"sync"
)

// Pipe is a bounded buffered pipe. Safe for one reader and many writers.
type Pipe struct {
	mu   sync.Mutex
	cond *sync.Cond
	// buf[off:] are the bytes waiting. Reads advance off; a write that
	// would outgrow buf's capacity first moves the waiting bytes to the
	// front, so a stream reuses one buffer instead of allocating a new
	// one for every write after the reader caught up.
	buf      []byte
	off      int
	limit    int
	wclosed  bool
	rclosed  bool
	closeErr error
}

// New returns a pipe that buffers at most limit bytes (minimum 1).
func New(limit int) *Pipe {
	p := &Pipe{limit: max(limit, 1)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Write copies b into the buffer, blocking while it is full. It fails with
// io.ErrClosedPipe after either side is closed.
func (p *Pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf)-p.off >= p.limit && !p.rclosed && !p.wclosed {
			p.cond.Wait()
		}
		if p.rclosed || p.wclosed {
			return n, io.ErrClosedPipe
		}
		k := min(len(b), p.limit-(len(p.buf)-p.off))
		if p.off > 0 && len(p.buf)+k > cap(p.buf) {
			p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
			p.off = 0
		}
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.cond.Broadcast()
	}
	return n, nil
}

// Read reads buffered bytes, blocking until some arrive or the write side
// closes.
func (p *Pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == p.off && !p.wclosed && !p.rclosed {
		p.cond.Wait()
	}
	if p.rclosed {
		return 0, io.ErrClosedPipe
	}
	if len(p.buf) == p.off {
		if p.closeErr != nil {
			return 0, p.closeErr
		}
		return 0, io.EOF
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		// Drained: the next write starts at the front again, in the
		// same buffer (at most the pipe's limit, which it may hold
		// anyway).
		p.buf, p.off = p.buf[:0], 0
	}
	p.cond.Broadcast()
	return n, nil
}

// CloseWrite ends the stream: the reader gets io.EOF after the buffer drains.
func (p *Pipe) CloseWrite() error { return p.CloseWriteError(nil) }

// CloseWriteError ends the stream with err (io.EOF when nil) for the reader.
func (p *Pipe) CloseWriteError(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.wclosed {
		p.wclosed = true
		p.closeErr = err
	}
	p.cond.Broadcast()
	return nil
}

// Close closes the read side: pending and future writes fail.
func (p *Pipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rclosed = true
	p.buf, p.off = nil, 0
	p.cond.Broadcast()
	return nil
}

// Buffered returns the number of bytes waiting to be read.
func (p *Pipe) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) - p.off
}
