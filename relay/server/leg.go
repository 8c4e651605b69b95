package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// leg is one side of a session: a WebSocket, or a raw stream
// (wsclient.RawProtocol) whose bytes the relay passes on as they are.
type leg struct {
	ws *websocket.Conn // nil on a raw stream
	// raw is a raw stream's connection, read through rawR: raw itself
	// (so copies between two raw legs are spliced), or bytes the client
	// sent with its request first.
	raw  net.Conn
	rawR io.Reader
}

// isRaw reports whether r asks for a raw stream.
func isRaw(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), wsclient.RawProtocol)
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// rawCapable reports whether r is a raw stream that can be part of a raw
// path (wsclient.HeaderRawPath): one forwarded by another instance is not,
// as the forwarding proxy ends both directions when either half-closes.
func (s *Server) rawCapable(r *http.Request) bool { return isRaw(r) && !s.fromPeer(r) }

// wantsUpgrade reports whether r asks for a raw stream or a WebSocket.
func wantsUpgrade(r *http.Request) bool { return isRaw(r) || websocket.IsWebSocketUpgrade(r) }

// refuseNoUpgrade answers 426 unless r asks for a raw stream or a
// WebSocket. It is checked before a ticket is used or a session taken, so
// a client whose raw request lost its Upgrade header on the way (a proxy
// that passes only WebSockets) can ask again with the same ticket.
func (s *Server) refuseNoUpgrade(w http.ResponseWriter, r *http.Request) bool {
	if wantsUpgrade(r) {
		return false
	}
	w.Header().Set("Upgrade", "websocket, "+wsclient.RawProtocol)
	w.Header().Set("Connection", "Upgrade")
	s.refuse(w, r, http.StatusUpgradeRequired, ReasonMalformed, "a stream is opened with an Upgrade to websocket or "+wsclient.RawProtocol)
	return true
}

// upgrade answers r's upgrade (refuseNoUpgrade has passed) and returns
// the leg. rawPath says the session's other leg is a raw stream too.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, rawPath bool) (*leg, error) {
	if !isRaw(r) {
		ws, err := s.data.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		ws.SetReadLimit(wsclient.MaxMessage)
		return &leg{ws: ws}, nil
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "relay: cannot switch protocols on this connection", http.StatusInternalServerError)
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	answer := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + wsclient.RawProtocol + "\r\n"
	if rawPath {
		answer += wsclient.HeaderRawPath + ": 1\r\n"
	}
	_, err = io.WriteString(nc, answer+"\r\n")
	_ = nc.SetDeadline(time.Time{}) // and the HTTP server's, which a stream outlives
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	s.metrics.rawLegs.Add(1)
	l := &leg{raw: nc, rawR: nc}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		l.rawR = io.MultiReader(bytes.NewReader(bytes.Clone(b)), nc)
	}
	return l, nil
}

// Close closes the leg's connection at once.
func (l *leg) Close() error {
	if l.ws != nil {
		return l.ws.Close()
	}
	return l.raw.Close()
}

// finish ends the session toward the leg: a close frame on a WebSocket,
// then a half-close; the connection is closed after linger (at once when
// readDone) unless its reader sees the peer's end first.
func (l *leg) finish(linger time.Duration, readDone bool) {
	if l.ws != nil {
		wsclient.GracefulClose(l.ws, linger, readDone)
		return
	}
	wsclient.CloseRaw(l.raw, linger, readDone)
}

// reader returns the leg's incoming bytes as one stream.
func (l *leg) reader() io.Reader {
	if l.ws != nil {
		return &messageReader{ws: l.ws}
	}
	return l.rawR
}

// writer returns where bytes for the leg's peer go: each Write is one
// binary message on a WebSocket.
func (l *leg) writer() io.Writer {
	if l.ws != nil {
		return messageWriter{ws: l.ws}
	}
	return l.raw
}

// messageReader reads the bytes of a WebSocket's consecutive binary and
// text messages; the peer's normal close is io.EOF.
type messageReader struct {
	ws  *websocket.Conn
	r   io.Reader
	err error
}

func (m *messageReader) Read(p []byte) (int, error) {
	for m.err == nil {
		if m.r == nil {
			mt, r, err := m.ws.NextReader()
			if err != nil {
				m.err = err
				if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
					m.err = io.EOF
				}
				break
			}
			if mt != websocket.BinaryMessage && mt != websocket.TextMessage {
				continue
			}
			m.r = r
		}
		n, err := m.r.Read(p)
		if errors.Is(err, io.EOF) {
			m.r = nil
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, m.err
}

type messageWriter struct{ ws *websocket.Conn }

func (m messageWriter) Write(p []byte) (int, error) {
	if err := m.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// copyLeg forwards src's bytes to dst until src ends. Between two raw
// legs of a relay without an idle timeout it is one io.Copy between the
// TCP connections, which Linux splices in the kernel (the bytes are
// counted when the direction ends); otherwise bytes pass through a pooled
// buffer and are counted as they go. When dst fails, src is drained
// until it ends, as copyMessages does.
func copyLeg(dst, src *leg, n, last *atomic.Int64, timed bool) {
	sr := src.reader()
	if dst.raw != nil && src.raw != nil && !timed {
		k, _ := io.Copy(dst.raw, sr)
		n.Add(k)
		last.Store(time.Now().UnixNano())
	} else {
		bp := copyPool.Get().(*[]byte)
		_, _ = io.CopyBuffer(countingWriter{w: dst.writer(), n: n, last: last}, struct{ io.Reader }{sr}, *bp)
		copyPool.Put(bp)
	}
	_, _ = io.Copy(io.Discard, sr)
}

// countingWriter counts the bytes written through it and when.
type countingWriter struct {
	w       io.Writer
	n, last *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n.Add(int64(k))
	c.last.Store(time.Now().UnixNano())
	return k, err
}

// pipeHalves carries a tunnel whose legs are both raw: each direction
// until its source half-closes, which is passed on to its destination;
// the session ends when both directions have, or at once (both legs
// closed) when either breaks or the session is idle too long.
func (s *Server) pipeHalves(shim, agent *leg, last *atomic.Int64, g ticket.Grant) {
	timed := s.opts.IdleTimeout > 0
	errs := make(chan error, 2)
	go func() { errs <- copyHalf(agent, shim, &s.metrics.bytesToAgent, last, timed) }()
	go func() { errs <- copyHalf(shim, agent, &s.metrics.bytesToShim, last, timed) }()
	var idle <-chan time.Time
	if timed {
		t := time.NewTicker(min(s.opts.IdleTimeout/4+time.Millisecond, time.Minute))
		defer t.Stop()
		idle = t.C
	}
	for ended := 0; ended < 2; {
		select {
		case err := <-errs:
			ended++
			if err != nil {
				_ = shim.Close()
				_ = agent.Close()
			}
		case <-idle:
			if time.Since(time.Unix(0, last.Load())) > s.opts.IdleTimeout {
				s.log.Info("closing idle session", "container", g.Container, "session", g.Session)
				_ = shim.Close()
				_ = agent.Close()
			}
		}
	}
	_ = shim.Close()
	_ = agent.Close()
	s.log.Debug("session closed", "container", g.Container, "kind", g.Kind, "session", g.Session)
}

// copyHalf copies src's bytes to dst (spliced, or counted as they go when
// timed) and half-closes dst at src's end.
func copyHalf(dst, src *leg, n, last *atomic.Int64, timed bool) error {
	var err error
	if timed {
		bp := copyPool.Get().(*[]byte)
		_, err = io.CopyBuffer(countingWriter{w: dst.raw, n: n, last: last}, struct{ io.Reader }{src.rawR}, *bp)
		copyPool.Put(bp)
	} else {
		var k int64
		k, err = io.Copy(dst.raw, src.rawR)
		n.Add(k)
		last.Store(time.Now().UnixNano())
	}
	if err != nil {
		return err
	}
	if cw, ok := dst.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
