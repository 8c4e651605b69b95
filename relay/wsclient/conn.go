// Package wsclient is the network side of the relay protocol for the two
// kinds of client: the shim's Dialer, which opens a stream with a signed
// ticket, and the Agent, which keeps a container's control connection to
// the relay and opens a data stream for each session offered on it. It
// also defines the protocol's paths and messages, which the relay server
// (package relay/server) implements.
//
// Every stream is a WebSocket carrying binary messages; the bytes are the
// frames of package relay/frame. The relay copies them without parsing, so
// flow control is end to end: a slow reader stops the relay reading from
// the writer, whose TCP window then fills and whose writes block.
package wsclient

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Protocol paths on the relay.
const (
	// PathAgent is the agent control endpoint: an agent connects with
	// ?container=ID and its agent token as bearer and stays connected;
	// sessions are offered to it as JSON text messages (Offer).
	PathAgent = "/v1/agent"
	// PathAgentSession is where an agent opens the data stream of an
	// offered session: ?container=ID&session=SID, agent token as bearer.
	PathAgentSession = "/v1/agent/session"
	// PathStream is where a shim opens a stream with a ticket as bearer.
	PathStream = "/v1/stream"
	// PathAgentPresence answers whether a container's agent is connected
	// (Presence): ?container=ID, the container's agent token as bearer.
	PathAgentPresence = "/v1/agent/presence"
)

// Presence is the relay's answer on PathAgentPresence.
type Presence struct {
	Connected bool `json:"connected"`
	// GoneFor is how long the agent has been disconnected (since the relay
	// started, if it has not been seen since); zero when connected.
	GoneFor time.Duration `json:"goneFor,omitempty"`
}

// Offer is the message a relay sends an agent over its control connection
// for each new session: the session id and the grant the relay verified.
type Offer struct {
	Session string       `json:"session"`
	Grant   ticket.Grant `json:"grant"`
	// Via names the relay instance that holds the session when several
	// run behind one load balancer; the agent sends it back as the data
	// stream's via parameter so whichever instance receives the stream
	// can hand it to that one.
	Via string `json:"via,omitempty"`
}

// MaxMessage bounds one WebSocket message: one frame with its header, or
// a batch of frames of at most MaxBatch bytes.
const MaxMessage = frame.MaxPayload + frame.HeaderSize

// MaxBatch is how many bytes of frames a Conn accepts ahead of its
// sender: four frames of a 64 KiB pipe read. Frames written while an
// earlier message is still being sent are sent together as the next
// message, so a fast producer makes few, large messages (and syscalls),
// while a lone frame goes out at once. A writer blocks while MaxBatch
// bytes wait, so a slow reader slows it down (flow control) and memory
// per stream stays bounded.
const MaxBatch = 4 * (64<<10 + frame.HeaderSize)

// BufferSize is the WebSocket read and write buffer size of streams
// (260 KiB: a whole batch is one WebSocket frame and one write). Loopback
// TCP costs about 0.5 ns of CPU per byte moved in 64 KiB reads and writes
// and 0.35 ns in 256 KiB ones. Write buffers come from a pool and are held
// only while a message is written.
const BufferSize = 260 << 10

// Linger is how long a closed stream keeps reading, waiting for the peer's
// close, before the socket is closed. Closing a TCP socket with unread
// input resets the connection, and a reset can destroy output the peer has
// not read yet (the last Exit frame), so a closing side sends its close
// frame, half-closes and drains first.
const Linger = 3 * time.Second

// Conn is a session leg as an io.ReadWriteCloser. On a WebSocket, Read
// returns the bytes of consecutive binary messages, and io.EOF after the
// peer's close; on a raw stream (RawProtocol) the connection's bytes, and
// io.EOF after the peer's half-close.
// Write and WriteFrame queue bytes that a sender goroutine sends, in
// order, as binary messages of at most MaxMessage bytes (see MaxBatch).
// A write error is returned by a later Write (or WriteFrame); Close sends
// what is queued first and is graceful (see Linger). One reader and any
// number of writers.
type Conn struct {
	ws *websocket.Conn
	r  io.Reader
	// raw is a raw stream's connection (ws is nil then), read through
	// rawR, which holds any bytes that came with the relay's answer.
	raw     net.Conn
	rawR    io.Reader
	rawPath bool // the relay said the other leg is raw too (HeaderRawPath)

	wmu      sync.Mutex
	wcond    sync.Cond // on wmu: the batch was taken, or sending stopped
	batch    *[]byte   // queued bytes, nil when none
	sending  bool      // a sender goroutine is running
	werr     error     // the first send error
	hdr      [frame.HeaderSize]byte
	closing  atomic.Bool
	readDone atomic.Bool

	closeOnce sync.Once
}

// batchPool lends batches; a quiet Conn holds none.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, MaxBatch); return &b }}

// NewConn wraps ws.
func NewConn(ws *websocket.Conn) *Conn {
	ws.SetReadLimit(MaxMessage)
	c := &Conn{ws: ws}
	c.wcond.L = &c.wmu
	return c
}

// newRawConn wraps a raw stream, read through br.
func newRawConn(nc net.Conn, br io.Reader) *Conn {
	c := &Conn{raw: nc, rawR: br}
	c.wcond.L = &c.wmu
	return c
}

// Raw returns, when the session's path is raw end to end (HeaderRawPath),
// the stream's reader and connection, for a caller that carries bytes
// unframed and half-closes the connection itself rather than using
// Conn's Read, Write and Close, so that copies to and from other TCP
// connections are spliced: reading r empties what the handshake buffered
// and then reads the connection directly (its WriteTo splices). ok is
// false on any other stream. Call it before anything is written.
func (c *Conn) Raw() (r io.Reader, nc net.Conn, ok bool) {
	if c.raw == nil || !c.rawPath {
		return nil, nil, false
	}
	return c.rawR, c.raw, true
}

// WebSocket returns the underlying WebSocket; nil on a raw stream.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// NetConn returns the underlying network connection.
func (c *Conn) NetConn() net.Conn {
	if c.raw != nil {
		return c.raw
	}
	return c.ws.NetConn()
}

// Read implements io.Reader.
func (c *Conn) Read(p []byte) (int, error) {
	if c.raw != nil {
		n, err := c.rawR.Read(p)
		if err != nil {
			c.readDone.Store(true)
			if c.closing.Load() {
				_ = c.raw.Close()
			}
		}
		return n, err
	}
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				c.readDone.Store(true)
				if c.closing.Load() {
					_ = c.ws.Close()
				}
				if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
					return 0, io.EOF
				}
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				continue
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write implements io.Writer: p is queued, in pieces of at most MaxBatch
// bytes (waiting while the batch is full), and sent in order with the
// frames of WriteFrame.
func (c *Conn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), MaxBatch)
		if err := c.enqueue(false, 0, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// WriteFrame queues one frame, header and payload copied straight into
// the batch the sender sends next. It implements frame.FrameWriter, so
// frame.Write and frame.Writer use it.
func (c *Conn) WriteFrame(t frame.Type, payload []byte) error {
	if len(payload) > frame.MaxPayload {
		return frame.ErrTooLarge
	}
	return c.enqueue(true, t, payload)
}

// enqueue appends p to the batch, after the header of a frame of type t
// when framed, waiting while the batch is full, and starts the sender if
// it is not running.
func (c *Conn) enqueue(framed bool, t frame.Type, p []byte) error {
	n := len(p)
	if framed {
		n += frame.HeaderSize
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		if c.werr != nil {
			return c.werr
		}
		if c.closing.Load() {
			return net.ErrClosed
		}
		if c.batch == nil || len(*c.batch)+n <= MaxBatch {
			break
		}
		c.wcond.Wait()
	}
	if c.batch == nil {
		c.batch = batchPool.Get().(*[]byte)
	}
	if framed {
		frame.PutHeader(&c.hdr, t, len(p))
		*c.batch = append(*c.batch, c.hdr[:]...)
	}
	*c.batch = append(*c.batch, p...)
	if !c.sending {
		c.sending = true
		go c.send()
	}
	return nil
}

// send sends batches until none is queued (or a send fails).
func (c *Conn) send() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for c.batch != nil && c.werr == nil {
		b := c.batch
		c.batch = nil
		c.wcond.Broadcast()
		c.wmu.Unlock()
		var err error
		if c.raw != nil {
			_, err = c.raw.Write(*b)
		} else {
			err = c.ws.WriteMessage(websocket.BinaryMessage, *b)
		}
		if cap(*b) <= MaxBatch {
			*b = (*b)[:0]
			batchPool.Put(b)
		}
		c.wmu.Lock()
		if err != nil {
			c.werr = err
		}
	}
	if c.batch != nil { // a send failed: drop what is queued
		c.batch = nil
	}
	c.sending = false
	c.wcond.Broadcast()
}

// Close sends what is queued, then a close frame (on a WebSocket),
// half-closes, and closes the socket when the peer's close arrives or
// after Linger. Like a
// blocked Write, it waits for queued bytes as long as the peer takes to
// read them (flow control); a dead peer fails the send.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		c.closing.Store(true)
		for c.sending {
			c.wcond.Wait()
		}
		c.wmu.Unlock()
		if c.raw != nil {
			CloseRaw(c.raw, Linger, c.readDone.Load())
			return
		}
		GracefulClose(c.ws, Linger, c.readDone.Load())
	})
	return nil
}

// CloseRaw is GracefulClose for a raw stream: it half-closes nc and
// closes it after linger (at once when readDone); a reader still running
// closes it sooner at the peer's EOF.
func CloseRaw(nc net.Conn, linger time.Duration, readDone bool) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if readDone || !ok {
		_ = nc.Close()
		return
	}
	_ = cw.CloseWrite()
	time.AfterFunc(linger, func() { _ = nc.Close() })
}

// GracefulClose sends ws a normal close frame, half-closes the TCP
// connection and closes the socket after linger (at once when readDone:
// nothing is left to drain). A reader still running on ws closes it
// sooner by seeing the peer's close.
func GracefulClose(ws *websocket.Conn, linger time.Duration, readDone bool) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	if readDone {
		_ = ws.Close()
		return
	}
	if cw, ok := ws.NetConn().(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	time.AfterFunc(linger, func() { _ = ws.Close() })
}
