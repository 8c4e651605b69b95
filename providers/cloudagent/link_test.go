package cloudagent

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// TestLinkConnected: Connected answers at once from the relay's presence,
// false before the agent connects and true once it serves; a relay that
// cannot be reached is Unavailable (the provider then probes instead).
func TestLinkConnected(t *testing.T) {
	secret := []byte("link-secret")
	srv, err := server.New(server.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	relayURL := "ws" + strings.TrimPrefix(hs.URL, "http")
	link := Link{Dialer: wsclient.Dialer{}, RelayURL: relayURL, Secret: secret}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if up, err := link.Connected(ctx, "c1"); err != nil || up {
		t.Fatalf("Connected before the agent = %v, %v; want false, nil", up, err)
	}
	agent := &wsclient.Agent{RelayURL: relayURL, Container: "c1", Token: ticket.AgentToken(secret, "c1"),
		Serve: func(_ context.Context, _ ticket.Grant, conn io.ReadWriteCloser) {
			defer conn.Close()
			_ = frame.Write(conn, frame.ResultType, []byte(`{}`))
		}}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = agent.Run(actx); close(done) }()
	defer func() { stop(); <-done }()
	if err := link.WaitAgent(ctx, "c1"); err != nil {
		t.Fatalf("WaitAgent: %v", err)
	}
	cases := []struct {
		name string
		link Link
		id   string
		want bool
		err  bool
	}{
		{"connected agent", link, "c1", true, false},
		{"other container", link, "c2", false, false},
		{"relay down", Link{Dialer: wsclient.Dialer{}, RelayURL: "ws://127.0.0.1:1", Secret: secret}, "c1", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up, err := tc.link.Connected(ctx, tc.id)
			if tc.err {
				if !errdefs.IsUnavailable(err) {
					t.Fatalf("Connected = %v, %v; want Unavailable", up, err)
				}
				return
			}
			if err != nil || up != tc.want {
				t.Fatalf("Connected = %v, %v; want %v", up, err, tc.want)
			}
		})
	}
}
