package agent

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/frame"
)

// TestListeningPorts: a socket this process listens on at the wildcard
// address is found; one on loopback only is not (no peer could reach it).
func TestListeningPorts(t *testing.T) {
	pub, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	ports := ListeningPorts("/proc")
	if !slices.Contains(ports, pub.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("wildcard listener %v not in %v", pub.Addr(), ports)
	}
	if slices.Contains(ports, lo.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("loopback listener %v in %v", lo.Addr(), ports)
	}
}

// echoDialer stands for the relay and the peer's agent: each tunnel
// session sends back what it is sent, and records the peer asked for.
type echoDialer struct{}

func (echoDialer) Dial(ctx context.Context, relayURL, token string) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		fr := frame.Reader{R: b}
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			switch f.Type {
			case frame.Stdin:
				if frame.Write(b, frame.Stdout, f.Payload) != nil {
					return
				}
			case frame.CloseStdin:
				_ = frame.Write(b, frame.Exit, []byte("0"))
				return
			}
		}
	}()
	return a, nil
}

// TestPeerNet: the agent gives a peer a loopback address, names it in
// the hosts file (keeping the file's own lines), listens there on the
// peer's port and carries a connection to the peer named by id; it
// reports its own listening ports; a peer that leaves loses its line and
// its listener.
func TestPeerNet(t *testing.T) {
	port := 40000 + os.Getpid()%20000
	var mu sync.Mutex
	peers := []PeerInfo{{ID: "0123456789abcdef", Names: []string{"database", "db"}, Ports: []int{port}}}
	var asked []string
	var reported [][]int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "token", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == "GET" && r.URL.Path == "/_sockerless/agent/c1/peers":
			_ = json.NewEncoder(w).Encode(peerList{Networked: true, Peers: peers})
		case r.Method == "POST" && r.URL.Path == "/_sockerless/agent/c1/ports":
			var rep struct{ Ports []int }
			_ = json.NewDecoder(r.Body).Decode(&rep)
			reported = append(reported, rep.Ports)
			w.WriteHeader(http.StatusNoContent)
		case r.Method == "POST" && r.URL.Path == "/_sockerless/agent/c1/peer":
			asked = append(asked, r.URL.Query().Get("name")+":"+r.URL.Query().Get("port"))
			_ = json.NewEncoder(w).Encode(controlapi.StreamTicket{RelayURL: "ws://relay", Token: "t"})
		default:
			http.Error(w, r.URL.Path, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pn := &PeerNet{ControlPlaneURL: srv.URL, Container: "c1", Token: "tok", HostsFile: hosts, Interval: 10 * time.Millisecond,
		Proxy: &PeerProxy{ControlPlaneURL: srv.URL, Container: "c1", Token: "tok", Dialer: echoDialer{}}}
	ok, err := pn.Start(ctx)
	if err != nil || !ok {
		t.Fatalf("Start: %v %v", ok, err)
	}
	b, _ := os.ReadFile(hosts)
	want := "127.0.0.1\tlocalhost\n" + hostsMarker + "\n127.0.0.2\tdatabase db\n"
	if string(b) != want {
		t.Fatalf("hosts file:\n%s\nwant:\n%s", b, want)
	}
	c, err := net.Dial("tcp", "127.0.0.2:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello peer")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello peer" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	c.Close()
	mu.Lock()
	if !slices.Equal(asked, []string{"0123456789abcdef:" + strconv.Itoa(port)}) || len(reported) == 0 {
		t.Fatalf("asked %v, reported %v", asked, reported)
	}
	peers = nil
	mu.Unlock()
	deadline := time.Now().Add(time.Minute) // hang guard
	for {
		b, _ := os.ReadFile(hosts)
		if !strings.Contains(string(b), "database") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leaving peer is still in the hosts file:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The refresh that rewrote the file closed the listener first.
	if c, err := net.Dial("tcp", "127.0.0.2:"+strconv.Itoa(port)); err == nil {
		c.Close()
		t.Fatal("the leaving peer's listener still accepts")
	}
}
