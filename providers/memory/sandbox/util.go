package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	experimentalsysfs "github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

func newFSConfig(w *wasiFS) wazero.FSConfig {
	return wazero.NewFSConfig().(experimentalsysfs.FSConfig).WithSysFSMount(w, "/")
}

// exitCode extracts a WASI exit status from an instantiation or call error.
func exitCode(err error) (int, bool) {
	if err == nil {
		return 0, true
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			return 137, true
		}
		return int(ee.ExitCode() & 0xff), true
	}
	return 0, false
}

func sortStrings(s []string) { sort.Strings(s) }

func randRead(b []byte) (int, error) { return rand.Read(b) }

type randReader struct{}

func (randReader) Read(b []byte) (int, error) { return rand.Read(b) }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// countWriter counts bytes written into a shared counter. It is also the
// container's end of a stream that every process of the container shares
// (the stages of a pipeline all write to one stderr), so it serialises
// writes as a kernel pipe does: each write reaches the caller's writer
// whole, and the caller's writer never sees two writes at once.
type countWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// countReader counts bytes read into a shared counter.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// onlcrWriter translates "\n" to "\r\n", as a TTY's output processing does.
type onlcrWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *onlcrWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if bytes.IndexByte(p, '\n') < 0 {
		return o.w.Write(p)
	}
	buf := make([]byte, 0, len(p)+16)
	for _, b := range p {
		if b == '\n' {
			buf = append(buf, '\r')
		}
		buf = append(buf, b)
	}
	if _, err := o.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ctxReader makes a blocking reader give up when ctx is done, so a process
// waiting for input can be stopped. Reads happen on a helper goroutine; a
// read still pending at cancellation finishes in the background and its
// data is dropped (the process is gone).
type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	mu      sync.Mutex
	pending chan readResult
	left    []byte
	err     error
}

type readResult struct {
	data []byte
	err  error
}

// newCtxReader wraps r unless it never blocks (in-memory readers, regular
// files).
func newCtxReader(ctx context.Context, r io.Reader) io.Reader {
	switch v := r.(type) {
	case *bytes.Reader, *bytes.Buffer:
		return r
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return r
		}
	}
	if _, ok := r.(interface{ Len() int }); ok {
		return r
	}
	return &ctxReader{ctx: ctx, r: r}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.left) > 0 {
		n := copy(p, c.left)
		c.left = c.left[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.pending == nil {
		ch := make(chan readResult, 1)
		buf := make([]byte, len(p))
		go func() {
			n, err := c.r.Read(buf)
			ch <- readResult{buf[:n], err}
		}()
		c.pending = ch
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		n := copy(p, res.data)
		c.left = res.data[n:]
		if res.err != nil {
			c.err = res.err
			if len(c.left) == 0 && n == 0 {
				return 0, res.err
			}
		}
		return n, nil
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
