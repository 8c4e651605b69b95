package wsclient

import (
	"errors"
	"net"
	"testing"
)

// TestRawOnlyForPlainRelays: a wss:// relay sits behind a TLS-terminating
// load balancer, so its legs are WebSockets without a raw attempt; other
// schemes are refused before any connection.
func TestRawOnlyForPlainRelays(t *testing.T) {
	// A listener that counts connections: a raw attempt would dial it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	for _, u := range []string{"wss://" + ln.Addr().String() + PathStream, "http://" + ln.Addr().String() + PathStream} {
		if _, err := dialRaw(t.Context(), u, "token"); !errors.Is(err, errUseWebSocket) {
			t.Errorf("dialRaw(%s) = %v, want errUseWebSocket", u, err)
		}
	}
	select {
	case <-accepted:
		t.Error("a raw stream was attempted")
	default:
	}
	// ws:// is tried raw: the listener closes it, which is an error, not a fallback.
	if _, err := dialRaw(t.Context(), "ws://"+ln.Addr().String()+PathStream, "token"); err == nil || errors.Is(err, errUseWebSocket) {
		t.Errorf("dialRaw(ws://) = %v, want a connection error", err)
	}
}
