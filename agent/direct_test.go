package agent

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/direct"
	"github.com/sockerless/sockerless/relay/tunnel"
)

// countingDialer is the echoing relay of peernet_test.go, counting dials.
type countingDialer struct{ n atomic.Int32 }

func (d *countingDialer) Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error) {
	d.n.Add(1)
	return echoDialer{}.Dial(ctx, relayURL, token)
}

// TestPeerProxyDirect: a peer's agent that takes direct connections
// (DirectListener) reports its address; the asking agent's proxy then
// connects to it directly, without the relay, and the bytes come back
// from the port in the peer's workload. An offered address that does not
// answer falls back to the relay, and is skipped for the next
// connection; RelayOnly never tries it.
func TestPeerProxyDirect(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	var peerConns atomic.Int32
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			peerConns.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	port := echo.Addr().(*net.TCPAddr).Port

	var mu sync.Mutex
	var reported []string
	var offerAddrs func() []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/_sockerless/agent/db/direct":
			if r.Header.Get("Authorization") != "Bearer tok-db" {
				http.Error(w, "token", http.StatusUnauthorized)
				return
			}
			var rep struct{ Addrs []string }
			_ = json.NewDecoder(r.Body).Decode(&rep)
			reported = rep.Addrs
			w.WriteHeader(http.StatusNoContent)
		case "/_sockerless/agent/c1/peer":
			o, err := direct.NewOffer("tok-db", "db", port, offerAddrs(), time.Now().Add(time.Minute))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_ = json.NewEncoder(w).Encode(controlapi.PeerTicket{StreamTicket: controlapi.StreamTicket{RelayURL: "ws://relay", Token: "t"}, Direct: &o})
		default:
			http.Error(w, r.URL.Path, http.StatusNotFound)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dl := &DirectListener{ControlPlaneURL: srv.URL, Container: "db", Token: "tok-db", Listen: "127.0.0.1:0", Workload: &Local{}}
	own, err := dl.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		mu.Lock()
		n := len(reported)
		mu.Unlock()
		if n > 0 {
			break
		}
		if i > 6000 {
			t.Fatal("the direct listener did not report its address")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(own)); reported[0] != want || len(reported) != 1 {
		t.Fatalf("reported %v, want [%s]", reported, want)
	}

	roundTrip := func(t *testing.T, pp *PeerProxy) {
		t.Helper()
		remote, err := pp.Dial(ctx, "database", port)
		if err != nil {
			t.Fatal(err)
		}
		client, mine := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer remote.Close()
			defer mine.Close()
			if dc, ok := remote.(directConn); ok {
				direct.Pipe(mine, dc.Conn)
				return
			}
			tunnel.Bridge(mine, remote)
		}()
		msg := []byte("hello peer")
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(client, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo %q, %v", got, err)
		}
		client.Close()
		<-done
	}

	t.Run("direct", func(t *testing.T) {
		mu.Lock()
		offerAddrs = func() []string { return reported }
		mu.Unlock()
		d := &countingDialer{}
		before := peerConns.Load()
		roundTrip(t, &PeerProxy{ControlPlaneURL: srv.URL, Container: "c1", Token: "tok", Dialer: d})
		if d.n.Load() != 0 || peerConns.Load() != before+1 {
			t.Fatalf("%d relay dials, %d connections to the peer's port; want 0 and 1", d.n.Load(), peerConns.Load()-before)
		}
	})
	t.Run("relay only", func(t *testing.T) {
		d := &countingDialer{}
		roundTrip(t, &PeerProxy{ControlPlaneURL: srv.URL, Container: "c1", Token: "tok", Dialer: d, RelayOnly: true})
		if d.n.Load() != 1 {
			t.Fatalf("%d relay dials, want 1", d.n.Load())
		}
	})
	t.Run("dead address falls back to the relay", func(t *testing.T) {
		dead, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := dead.Addr().String()
		dead.Close()
		mu.Lock()
		offerAddrs = func() []string { return []string{addr} }
		mu.Unlock()
		d := &countingDialer{}
		pp := &PeerProxy{ControlPlaneURL: srv.URL, Container: "c1", Token: "tok", Dialer: d}
		roundTrip(t, pp)
		roundTrip(t, pp)
		if d.n.Load() != 2 {
			t.Fatalf("%d relay dials, want 2", d.n.Load())
		}
		if _, ok := pp.unreachable.Load(addr); !ok {
			t.Fatal("the dead address is not remembered")
		}
	})
}
