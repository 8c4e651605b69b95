package agent

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
)

func tunnelSession(t *testing.T, w Workload, port int) net.Conn {
	t.Helper()
	client, agentEnd := net.Pipe()
	g := ticket.Grant{Container: "c", Session: "s", Kind: ticket.KindTunnel, Tunnel: &ticket.Tunnel{Port: port}}
	go ServeSession(t.Context(), agentEnd, g, w, nil)
	t.Cleanup(func() { client.Close() })
	return client
}

// TestTunnel: a tunnel session carries the client's bytes to the port on
// the workload's loopback and the answer back, half-close included; a
// port nobody listens on, an invalid port and a workload that cannot
// tunnel end the session with an error.
func TestTunnel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b, _ := io.ReadAll(c) // until the client half-closes
				c.Write(bytes.ToUpper(b))
				c.Close()
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	c := tunnelSession(t, &Local{}, port)
	go func() {
		frame.Write(c, frame.Stdin, []byte("hello "))
		frame.Write(c, frame.Stdin, []byte("tunnel"))
		frame.Write(c, frame.CloseStdin, nil)
	}()
	data, f := until(t, c, frame.Exit)
	if f.Type != frame.Exit || string(data) != "HELLO TUNNEL" {
		t.Fatalf("tunnel answered %q then %v %q", data, f.Type, f.Payload)
	}

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	for _, tc := range []struct {
		name string
		w    Workload
		port int
		want string
	}{
		{"refused", &Local{}, closedPort, "connecting to port " + strconv.Itoa(closedPort)},
		{"invalid port", &Local{}, 70000, "invalid port"},
		{"cannot tunnel", execOnly{}, port, "not supported"},
	} {
		c := tunnelSession(t, tc.w, tc.port)
		go func() { frame.Write(c, frame.CloseStdin, nil) }()
		if _, f := until(t, c, frame.Exit); f.Type != frame.Error || !strings.Contains(string(f.Payload), tc.want) {
			t.Fatalf("%s: %v %q, want an error with %q", tc.name, f.Type, f.Payload, tc.want)
		}
	}
}
