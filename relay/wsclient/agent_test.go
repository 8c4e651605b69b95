package wsclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/ticket"
)

// TestAgentTracksOfferedSessions: a session counts in Agent.Track from
// the moment its offer arrives, while its data stream is still being
// opened, until it has been served, so an agent that waits on Track
// before exiting serves the attach a client opened before the start.
func TestAgentTracksOfferedSessions(t *testing.T) {
	up := websocket.Upgrader{}
	dialled := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc(PathAgent, func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteJSON(Offer{Session: "s1", Grant: ticket.Grant{Container: "c1", Kind: ticket.KindAttach}})
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	})
	mux.HandleFunc(PathAgentSession, func(w http.ResponseWriter, r *http.Request) {
		// The session's stream is slow to open (a loaded relay).
		close(dialled)
		<-release
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		ws.Close()
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)

	var track sync.WaitGroup
	served := make(chan struct{})
	a := &Agent{
		RelayURL: "ws" + hs.URL[len("http"):], Container: "c1", Token: "tok", Track: &track,
		WS: &websocket.Dialer{}, // the fake relay speaks only WebSocket
		Serve: func(ctx context.Context, g ticket.Grant, conn io.ReadWriteCloser) {
			conn.Close()
			close(served)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	<-dialled
	// Track may only become idle once the offered session was served.
	early := make(chan bool, 1)
	go func() {
		track.Wait()
		select {
		case <-served:
			early <- false
		default:
			early <- true
		}
	}()
	close(release)
	if <-early {
		t.Fatal("Track was idle while an offered session's stream was still being opened")
	}
}

// TestAgentOnce: an agent with Once ends when its first control
// connection ends (the relay replaced or dropped it) instead of
// reconnecting; without Once it reconnects.
func TestAgentOnce(t *testing.T) {
	for _, once := range []bool{true, false} {
		up := websocket.Upgrader{}
		var mu sync.Mutex
		conns := 0
		second := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			n := conns
			mu.Unlock()
			if n == 2 {
				close(second)
			}
			ws.Close() // dropped at once
		}))
		a := &Agent{RelayURL: "ws" + hs.URL[len("http"):], Container: "c1", Token: "tok", Once: once,
			Serve: func(context.Context, ticket.Grant, io.ReadWriteCloser) {}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		if once {
			if err := <-done; err == nil || ctx.Err() != nil {
				t.Errorf("Once: Run() = %v, want it to end with the connection", err)
			}
		} else {
			<-second // it reconnected
		}
		cancel()
		if !once {
			<-done
		}
		mu.Lock()
		if once && conns != 1 {
			t.Errorf("Once: %d connections, want 1", conns)
		}
		mu.Unlock()
		hs.Close()
	}
}
