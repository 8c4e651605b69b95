// Package tunnel carries one TCP connection over a relay session of kind
// tunnel: the connection's bytes as Stdin frames, its half-close as
// CloseStdin, and the far side's bytes (Stdout frames) back until Exit.
// The shim uses it for published ports and the agent for connections to
// its network's peers, so both ends speak the same protocol to the agent
// that dials the port (agent.serveTunnel).
//
// When the relay says both legs of the session are raw streams
// (wsclient.HeaderRawPath), the connection is carried unframed instead,
// so that every hop splices it: the client side sends a Ready frame and
// then the client's bytes as they are; the agent answers with one frame,
// Ready once it has connected to the port (or Error), and then the port's
// bytes; each direction's end is a half-close.
package tunnel

import (
	"errors"
	"io"
	"net"

	"github.com/sockerless/sockerless/relay/frame"
)

// Bridge copies between client and remote until the far side ends the
// session (Exit or Error frame) or either connection breaks, then
// returns; the caller closes both. Memory is one buffer each way: client
// is read only as fast as remote takes the frames.
func Bridge(client net.Conn, remote io.ReadWriter) {
	if rs, ok := remote.(RawStream); ok {
		if r, nc, ok := rs.Raw(); ok {
			bridgeRaw(client, r, nc)
			return
		}
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 && frame.Write(remote, frame.Stdin, buf[:n]) != nil {
				return
			}
			if err != nil {
				_ = frame.Write(remote, frame.CloseStdin, nil)
				return
			}
		}
	}()
	fr := frame.Reader{R: remote}
	for {
		f, err := fr.Next()
		if err != nil {
			return
		}
		switch f.Type {
		case frame.Stdout:
			if _, err := client.Write(f.Payload); err != nil {
				return
			}
		case frame.Exit, frame.Error:
			return
		}
	}
}

// RawStream is a relay stream that can be used unframed: Raw reports
// whether the session's path is raw end to end and returns the stream's
// reader and connection (wsclient.Conn implements it).
type RawStream interface {
	Raw() (r io.Reader, nc net.Conn, ok bool)
}

// ErrNotSwitched is the agent's answer to a raw tunnel whose client side
// did not start with a Ready frame.
var ErrNotSwitched = errors.New("tunnel: the client did not switch to unframed bytes")

// bridgeRaw is Bridge on an unframed tunnel (see the package comment). It
// returns when both directions have ended or either breaks; nc is closed.
func bridgeRaw(client net.Conn, r io.Reader, nc net.Conn) {
	defer nc.Close()
	if frame.Write(nc, frame.Ready, nil) != nil {
		return
	}
	errs := make(chan error, 2)
	go func() { errs <- HalfCopy(nc, client) }()
	if f, err := frame.Read(r); err != nil || f.Type != frame.Ready {
		return // the agent could not connect (Error) or went away
	}
	go func() { errs <- HalfCopy(client, r) }()
	for range 2 {
		if <-errs != nil {
			return
		}
	}
}

// HalfCopy copies src to dst until src's end, then half-closes dst. Between
// TCP connections (and from a bufio.Reader over one, once it has emptied
// its buffer) io.Copy splices.
func HalfCopy(dst net.Conn, src io.Reader) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
