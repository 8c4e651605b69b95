package direct

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoPort is a TCP echo server standing for a port in the workload.
func echoPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer runs a Server for container "c1" with token "tok-c1" on
// loopback and returns its address.
func startServer(t *testing.T, now func() time.Time) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Container: "c1", Token: "tok-c1", Now: now,
		DialPort: func(ctx context.Context, port int) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Serve(ctx, ln) }()
	return ln.Addr().String(), s
}

func TestDialCarriesBytesBothWays(t *testing.T) {
	port := echoPort(t)
	addr, _ := startServer(t, nil)
	o, err := NewOffer("tok-c1", "c1", port, []string{addr}, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), o, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	go func() {
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if crc32.ChecksumIEEE(got) != crc32.ChecksumIEEE(data) || len(got) != len(data) {
		t.Fatalf("echoed %d bytes, not the %d sent", len(got), len(data))
	}
}

func TestDialFallsThroughDeadAddress(t *testing.T) {
	port := echoPort(t)
	addr, _ := startServer(t, nil)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	o, _ := NewOffer("tok-c1", "c1", port, []string{deadAddr, addr}, time.Now().Add(time.Minute))
	c, err := Dial(context.Background(), o, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestServerRefuses: a hello is accepted only with this container's
// proof, in time, once; a refused one connects nothing.
func TestServerRefuses(t *testing.T) {
	port := echoPort(t)
	now := time.Unix(1_800_000_000, 0)
	addr, _ := startServer(t, func() time.Time { return now })
	good, _ := NewOffer("tok-c1", "c1", port, []string{addr}, now.Add(time.Minute))
	if c, err := Dial(context.Background(), good, 5*time.Second); err != nil {
		t.Fatalf("the valid offer: %v", err)
	} else {
		c.Close()
	}
	forged, _ := NewOffer("tok-other", "c1", port, []string{addr}, now.Add(time.Minute))
	otherContainer, _ := NewOffer("tok-c1", "c2", port, []string{addr}, now.Add(time.Minute))
	expired, _ := NewOffer("tok-c1", "c1", port, []string{addr}, now)
	otherPort := good
	otherPort.Port++
	noPort, _ := NewOffer("tok-c1", "c1", 0, []string{addr}, now.Add(time.Minute))
	for name, o := range map[string]Offer{
		"replayed nonce":             good,
		"proof from another token":   forged,
		"another container":          otherContainer,
		"expired":                    expired,
		"port changed after signing": otherPort,
		"port 0":                     noPort,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Dial(context.Background(), o, 5*time.Second)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
}

// TestDialRefusesImpostor: a server that does not hold the container's
// token cannot answer, so the dialler does not use its connection.
func TestDialRefusesImpostor(t *testing.T) {
	port := echoPort(t)
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
			var h hello
			_ = readMsg(c, &h)
			_ = writeMsg(c, reply{Answer: h.Proof}) // anything but the real answer
			c.Close()
		}
	}()
	o, _ := NewOffer("tok-c1", "c1", port, []string{ln.Addr().String()}, time.Now().Add(time.Minute))
	if c, err := Dial(context.Background(), o, 5*time.Second); err == nil || !errors.Is(err, ErrRefused) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial to an impostor: %v, want ErrRefused", err)
	}
}

func TestServerClosedPort(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	port := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	addr, _ := startServer(t, nil)
	o, _ := NewOffer("tok-c1", "c1", port, []string{addr}, time.Now().Add(time.Minute))
	_, err := Dial(context.Background(), o, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "connecting to port") {
		t.Fatalf("Dial to a closed port: %v", err)
	}
}

// TestConcurrentConnections: many connections at once, each echoed whole.
func TestConcurrentConnections(t *testing.T) {
	port := echoPort(t)
	addr, _ := startServer(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, _ := NewOffer("tok-c1", "c1", port, []string{addr}, time.Now().Add(time.Minute))
			c, err := Dial(context.Background(), o, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			data := bytes.Repeat([]byte{byte(i)}, 256<<10)
			go func() {
				_, _ = c.Write(data)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, data) {
				errs <- errors.New("connection " + strconv.Itoa(i) + " not echoed whole")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzHello: whatever a client sends, the server's reading and checking
// neither panics nor accepts a hello it did not sign.
func FuzzHello(f *testing.F) {
	f.Add([]byte{0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0, 0})
	f.Add(append([]byte{0, 60}, `{"container":"c1","port":80,"nonce":"n","expires":9e18}`...))
	f.Add(append([]byte{0, 10}, `{"port":"x`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h hello
		if err := readMsg(bytes.NewReader(b), &h); err != nil {
			return
		}
		s := &Server{Container: "c1", Token: "tok-c1"}
		if s.check(h) == nil {
			t.Fatalf("accepted a hello it did not sign: %+v", h)
		}
	})
}

// TestServerBoundsPendingHandshakes: connections that send nothing hold
// at most maxPending handshakes; the one past it is closed at once, and
// a real client is served once they go.
func TestServerBoundsPendingHandshakes(t *testing.T) {
	port := echoPort(t)
	addr, s := startServer(t, nil)
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range maxPending {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	for i := 0; ; i++ {
		s.mu.Lock()
		n := s.pending
		s.mu.Unlock()
		if n == maxPending {
			break
		}
		if i > 6000 {
			t.Fatalf("%d pending handshakes, want %d", n, maxPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the connection past the bound: read %d, %v; want it closed", n, err)
	}
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	for i := 0; ; i++ {
		s.mu.Lock()
		n := s.pending
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if i > 6000 {
			t.Fatalf("%d handshakes still pending after their connections closed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	o, _ := NewOffer("tok-c1", "c1", port, []string{addr}, time.Now().Add(time.Minute))
	c, err := Dial(context.Background(), o, 10*time.Second)
	if err != nil {
		t.Fatalf("after the idle connections went: %v", err)
	}
	c.Close()
}
