// Package tunnel carries one TCP connection over a relay session of kind
// tunnel: the connection's bytes as Stdin frames, its half-close as
// CloseStdin, and the far side's bytes (Stdout frames) back until Exit.
// The shim uses it for published ports and the agent for connections to
// its network's peers, so both ends speak the same protocol to the agent
// that dials the port (agent.serveTunnel).
package tunnel

import (
	"io"
	"net"

	"github.com/sockerless/sockerless/relay/frame"
)

// Bridge copies between client and remote until the far side ends the
// session (Exit or Error frame) or either connection breaks, then
// returns; the caller closes both. Memory is one buffer each way: client
// is read only as fast as remote takes the frames.
func Bridge(client net.Conn, remote io.ReadWriter) {
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
