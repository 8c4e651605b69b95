package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/tunnel"
)

// Tunneler is the optional Workload ability behind published ports and
// service networking: a TCP connection to a port of the workload's own
// loopback, which the agent dials where the workload's processes listen.
type Tunneler interface {
	DialPort(ctx context.Context, port int) (net.Conn, error)
}

// DialPort implements Tunneler for an agent that shares its workload's
// network namespace (a cloud task, a function instance): 127.0.0.1:port.
func (l *Local) DialPort(ctx context.Context, port int) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

// serveTunnel carries one TCP connection: the client's Stdin frames are
// written to the connection (CloseStdin half-closes it), what the
// connection answers goes back as Stdout frames, and its end is the Exit
// frame. A refused dial ends the session with an Error frame. Memory is
// one frame each way: the connection is read only as fast as the relay
// takes the frames, and the client's input is bounded by the session's
// stdin buffer.
func serveTunnel(ctx context.Context, out io.Writer, stdin io.Reader, g ticket.Grant, w Workload) error {
	conn, err := dialTunnel(ctx, g, w)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	// The copies hide the connection's ReadFrom and WriteTo, which would
	// copy through io.Copy's own 32 KiB buffer: 64 KiB reads make 64 KiB
	// frames (and one write per frame the other way), half the messages,
	// syscalls and WebSocket headers of 32 KiB ones.
	go func() {
		_, _ = io.CopyBuffer(struct{ io.Writer }{conn}, stdin, make([]byte, 64<<10))
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	if _, err := io.CopyBuffer(frame.Writer{W: out, Type: frame.Stdout}, struct{ io.Reader }{conn}, make([]byte, 64<<10)); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return frame.Write(out, frame.Exit, []byte("0"))
}

// dialTunnel connects to the grant's port in the workload.
func dialTunnel(ctx context.Context, g ticket.Grant, w Workload) (net.Conn, error) {
	t, ok := w.(Tunneler)
	switch {
	case g.Tunnel == nil:
		return nil, errors.New("tunnel session without a port")
	case !ok:
		return nil, errdefs.NotImplementedf("connecting to a container's ports is not supported by this workload")
	case g.Tunnel.Port < 1 || g.Tunnel.Port > 65535:
		return nil, errdefs.InvalidParameterf("tunnel: invalid port %d", g.Tunnel.Port)
	}
	conn, err := t.DialPort(ctx, g.Tunnel.Port)
	if err != nil {
		return nil, fmt.Errorf("connecting to port %d in the container: %w", g.Tunnel.Port, err)
	}
	return conn, nil
}

// serveRawTunnel carries one TCP connection unframed, on a session whose
// path is raw end to end (package relay/tunnel): after the client's Ready
// frame it connects to the port, answers Ready (or Error), and splices the
// two connections both ways, passing each direction's end on as a
// half-close, until both have ended. nc is closed on return.
func serveRawTunnel(ctx context.Context, r io.Reader, nc net.Conn, g ticket.Grant, w Workload) error {
	defer nc.Close()
	f, err := frame.Read(r)
	if err != nil {
		return err
	}
	if f.Type != frame.Ready {
		_ = frame.Write(nc, frame.Error, []byte(tunnel.ErrNotSwitched.Error()))
		return tunnel.ErrNotSwitched
	}
	conn, err := dialTunnel(ctx, g, w)
	if err != nil {
		_ = frame.Write(nc, frame.Error, []byte(err.Error()))
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close(); _ = nc.Close() })
	defer stop()
	if err := frame.Write(nc, frame.Ready, nil); err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- tunnel.HalfCopy(conn, r) }()
	go func() { errs <- tunnel.HalfCopy(nc, conn) }()
	for range 2 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
