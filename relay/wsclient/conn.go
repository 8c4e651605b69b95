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
)

// Offer is the message a relay sends an agent over its control connection
// for each new session: the session id and the grant the relay verified.
type Offer struct {
	Session string       `json:"session"`
	Grant   ticket.Grant `json:"grant"`
}

// MaxMessage bounds one WebSocket message: one frame with its header.
const MaxMessage = frame.MaxPayload + frame.HeaderSize

// BufferSize is the WebSocket read and write buffer size (128 KiB: with
// 32 KiB, syscalls per byte halved one stream's throughput on loopback).
const BufferSize = 128 << 10

// Linger is how long a closed stream keeps reading, waiting for the peer's
// close, before the socket is closed. Closing a TCP socket with unread
// input resets the connection, and a reset can destroy output the peer has
// not read yet (the last Exit frame), so a closing side sends its close
// frame, half-closes and drains first.
const Linger = 3 * time.Second

// Conn adapts a WebSocket to io.ReadWriteCloser: each Write is sent as
// binary messages of at most MaxMessage bytes, Read returns the bytes of
// consecutive binary messages, and io.EOF after the peer's close. Close
// is graceful (see Linger). One reader and any number of writers.
type Conn struct {
	ws  *websocket.Conn
	r   io.Reader
	wmu sync.Mutex
	hdr [frame.HeaderSize]byte // WriteFrame's header, under wmu

	closeOnce sync.Once
	closing   atomic.Bool
	readDone  atomic.Bool
}

// NewConn wraps ws.
func NewConn(ws *websocket.Conn) *Conn {
	ws.SetReadLimit(MaxMessage)
	return &Conn{ws: ws}
}

// WebSocket returns the underlying connection.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// Read implements io.Reader.
func (c *Conn) Read(p []byte) (int, error) {
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

// Write implements io.Writer.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return 0, net.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), MaxMessage)
		if err := c.ws.WriteMessage(websocket.BinaryMessage, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// WriteFrame sends one frame as one binary message, header and payload
// written straight into the WebSocket's write buffer (no intermediate
// copy). It implements frame.FrameWriter, so frame.Write and frame.Writer
// use it.
func (c *Conn) WriteFrame(t frame.Type, payload []byte) error {
	if len(payload) > frame.MaxPayload {
		return frame.ErrTooLarge
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return net.ErrClosed
	}
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	frame.PutHeader(&c.hdr, t, len(payload))
	if _, err := w.Write(c.hdr[:]); err != nil {
		_ = w.Close()
		return err
	}
	if _, err := w.Write(payload); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Close sends a close frame, half-closes, and closes the socket when the
// peer's close arrives or after Linger.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		c.closing.Store(true)
		c.wmu.Unlock()
		GracefulClose(c.ws, Linger, c.readDone.Load())
	})
	return nil
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
