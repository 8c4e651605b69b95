package wsclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/frame"
)

// peer is a WebSocket server that hands each accepted connection to the test.
func peer(t *testing.T) (url string, accepted <-chan *websocket.Conn) {
	t.Helper()
	ch := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ch <- ws
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http"), ch
}

func dialConn(t *testing.T) (*Conn, *websocket.Conn) {
	t.Helper()
	url, accepted := peer(t)
	ws, err := dial(t.Context(), nil, url, "x", BufferSize)
	if err != nil {
		t.Fatal(err)
	}
	return NewConn(ws), <-accepted
}

// pipeListener is a net.Listener whose connections are the server ends of
// net.Pipe: nothing is buffered between the two sides, so a sender is held
// exactly as long as its peer does not read.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// dialPipeConn connects a Conn to a WebSocket peer over net.Pipe.
func dialPipeConn(t *testing.T) (*Conn, *websocket.Conn) {
	t.Helper()
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	accepted := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		accepted <- ws
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	d := &websocket.Dialer{
		ReadBufferSize: BufferSize, WriteBufferSize: BufferSize,
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			select {
			case l.conns <- server:
				return client, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}
	ws, err := dial(t.Context(), d, "ws://pipe/", "x", BufferSize)
	if err != nil {
		t.Fatal(err)
	}
	return NewConn(ws), <-accepted
}

// queued is how many bytes c holds that its sender has not taken yet.
func (c *Conn) queued() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.batch == nil {
		return 0
	}
	return len(*c.batch)
}

// TestConnBatches: frames written while the peer is not reading are sent
// as few messages, whole and in order, and a lone frame is sent at once.
// The peer is across an unbuffered pipe and reads each message only once
// the writers are held up (the batch is full, or they are done), so the
// batching it sees does not depend on how the goroutines are scheduled.
func TestConnBatches(t *testing.T) {
	c, srv := dialPipeConn(t)
	defer c.Close()

	// A lone frame arrives without further writes (the deadline is only
	// a hang guard, cleared after this read).
	if err := frame.Write(c, frame.Stdout, []byte("alone")); err != nil {
		t.Fatal(err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(time.Minute))
	_, msg, err := srv.ReadMessage()
	if err != nil {
		t.Fatalf("lone frame not sent: %v", err)
	}
	_ = srv.SetReadDeadline(time.Time{})
	if f, _ := frame.Read(bytes.NewReader(msg)); string(f.Payload) != "alone" {
		t.Fatalf("lone frame = %q", msg)
	}

	// 64 KiB frames written by two writers while the peer reads nothing.
	const frames = 400
	const frameSize = 64<<10 + frame.HeaderSize
	var wg sync.WaitGroup
	var written atomic.Bool
	for w := range 2 {
		wg.Go(func() {
			p := bytes.Repeat([]byte{byte('a' + w)}, 64<<10)
			for i := range frames / 2 {
				p[0] = byte(i)
				if err := frame.Write(c, frame.Type(1+w), p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); written.Store(true); c.Close(); close(done) }()
	var all bytes.Buffer
	messages := 0
	for {
		// Hold the peer until the writers are held up in turn.
		for !written.Load() && c.queued()+frameSize <= MaxBatch {
			runtime.Gosched()
		}
		mt, msg, err := srv.ReadMessage()
		if err != nil {
			break // the close frame after every queued frame
		}
		if mt != websocket.BinaryMessage || len(msg) > MaxMessage {
			t.Fatalf("message type %d, %d bytes", mt, len(msg))
		}
		messages++
		all.Write(msg)
	}
	<-done
	next := [3]int{}
	for n := 0; ; n++ {
		f, err := frame.Read(&all)
		if err == io.EOF {
			if n != frames {
				t.Fatalf("got %d frames, want %d", n, frames)
			}
			break
		}
		if err != nil || len(f.Payload) != 64<<10 {
			t.Fatalf("frame %d: %v, %d bytes: frames are not whole", n, err, len(f.Payload))
		}
		w := int(f.Type)
		if f.Payload[0] != byte(next[w]) || f.Payload[1] != byte('a'+w-1) {
			t.Fatalf("frame %d of writer %d is #%d, want #%d", n, w, f.Payload[0], next[w])
		}
		next[w]++
	}
	t.Logf("%d frames in %d messages", frames, messages)
	if messages > frames/2 {
		t.Errorf("%d frames were sent as %d messages; queued frames are not batched", frames, messages)
	}
}

// TestConnWriteError: once sending fails, writes fail instead of queueing
// without end, and Close returns.
func TestConnWriteError(t *testing.T) {
	c, srv := dialConn(t)
	srv.Close()
	c.WebSocket().NetConn().Close()
	p := make([]byte, 64<<10)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := c.WriteFrame(frame.Stdout, p); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WriteFrame() never failed on a closed connection")
		}
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close() hangs after a failed send")
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write() after Close() succeeded")
	}
}
