package server_test

// Benchmarks for the relay targets, each against a direct TCP copy
// on loopback measured in the same run:
//
//	go test -run '^$' -bench . ./relay/server/
//
// BenchmarkStreams: one stream and 100 concurrent streams, relay vs TCP.
// BenchmarkEcho: 1-byte echo round trip, relay vs TCP, p50 and p99 and
// the p50 the relay adds. BenchmarkIdleMemory: resident memory of a relay
// process per idle agent (10,000 agents) and per open session.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/server"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

// tcpSink is a loopback TCP server that writes n bytes to each
// connection after reading its 8-byte request (the byte count), like the
// agent's "flood" command.
func tcpSink(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var req [8]byte
				if _, err := io.ReadFull(c, req[:]); err != nil {
					return
				}
				n, _ := strconv.Atoi(strings.TrimSpace(string(req[:])))
				chunk := make([]byte, 64<<10)
				for n > 0 {
					k := min(n, len(chunk))
					if _, err := c.Write(chunk[:k]); err != nil {
						return
					}
					n -= k
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func directFlood(b *testing.B, addr string, n int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%8d", n)
	// Read as the relay's client does: BufferSize reads (io.Copy to
	// io.Discard would read 8 KiB at a time, a slower baseline).
	buf := make([]byte, wsclient.BufferSize)
	if k, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{c}, buf); err != nil || k != int64(n) {
		b.Fatalf("direct: read %d of %d: %v", k, n, err)
	}
}

func relayFlood(b *testing.B, url, session string, n int) {
	conn, err := wsclient.Dialer{}.Dial(context.Background(), url, sign(b, "A", session, "flood", strconv.Itoa(n)))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	got := 0
	fr := frame.Reader{R: conn} // as the shim's bridge reads
	for {
		f, err := fr.Next()
		if err != nil {
			b.Fatal(err)
		}
		switch f.Type {
		case frame.Stdout:
			got += len(f.Payload)
		case frame.Exit:
			if got != n {
				b.Fatalf("relay: read %d of %d", got, n)
			}
			return
		}
	}
}

// BenchmarkStreams measures throughput (MB/s) of one stream and of 100
// concurrent streams, through the relay (shim-side wsclient.Dialer →
// relay server → agent-side wsclient.Agent serving agent.ServeSession)
// and over direct loopback TCP, with the same payload sizes. Each
// iteration runs the direct copy and then the relayed one, so both see
// the same machine load (the 2-core machine is shared); it reports both
// rates and the relay's as a percentage of direct (target ≥ 50 for one
// stream).
func BenchmarkStreams(b *testing.B) {
	for _, streams := range []int{1, 100} {
		size := 64 << 20
		if streams > 1 {
			size = 4 << 20 // per stream: 400 MiB per operation in all
		}
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			addr := tcpSink(b)
			e := startRelay(b, server.Options{})
			e.startAgent(b, "A", testWorkload{name: "A"})
			timed := func(f func(s int)) time.Duration {
				t := time.Now()
				var wg sync.WaitGroup
				for s := range streams {
					wg.Go(func() { f(s) })
				}
				wg.Wait()
				return time.Since(t)
			}
			var direct, relayed time.Duration
			for i := 0; b.Loop(); i++ {
				direct += timed(func(int) { directFlood(b, addr, size) })
				relayed += timed(func(s int) { relayFlood(b, e.url, fmt.Sprintf("s%d-%d", i, s), size) })
			}
			bytes := float64(b.N) * float64(size*streams)
			b.ReportMetric(bytes/direct.Seconds()/1e6, "direct-MB/s")
			b.ReportMetric(bytes/relayed.Seconds()/1e6, "relay-MB/s")
			b.ReportMetric(100*direct.Seconds()/relayed.Seconds(), "relay-%-of-direct")
		})
	}
}

// percentile returns the p-th percentile of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// echoDirect returns round trips of a 1-byte echo over loopback TCP.
func echoDirect(b *testing.B, n int) []time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	out := make([]time.Duration, 0, n)
	var one [1]byte
	for range n {
		t := time.Now()
		c.Write([]byte{'x'})
		if _, err := io.ReadFull(c, one[:]); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t))
	}
	return out
}

// echoRelay returns round trips of a 1-byte echo through one relay
// session: a Stdin frame from the shim side, echoed by the agent's
// workload as a Stdout frame.
func echoRelay(b *testing.B, url string, n int) []time.Duration {
	conn, err := wsclient.Dialer{}.Dial(context.Background(), url, sign(b, "A", fmt.Sprintf("echo-%d", time.Now().UnixNano()), "echo"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	out := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		frame.Write(conn, frame.Stdin, []byte{'x'})
		for {
			f, err := frame.Read(conn)
			if err != nil {
				b.Fatal(err)
			}
			if f.Type == frame.Stdout {
				break
			}
		}
		out = append(out, time.Since(t))
	}
	frame.Write(conn, frame.CloseStdin, nil)
	return out
}

// BenchmarkEcho measures the round trip of a 1-byte echo, directly over
// TCP and through the relay (shim ⇄ relay ⇄ agent ⇄ workload), and
// reports p50, p99 and the p50 the relay adds over TCP.
func BenchmarkEcho(b *testing.B) {
	e := startRelay(b, server.Options{})
	e.startAgent(b, "A", testWorkload{name: "A"})
	const n = 2000
	echoDirect(b, 200) // warm up
	echoRelay(b, e.url, 200)
	for b.Loop() {
		direct := echoDirect(b, n)
		relayed := echoRelay(b, e.url, n)
		dp50, rp50 := percentile(direct, 0.5), percentile(relayed, 0.5)
		b.ReportMetric(float64(dp50.Microseconds()), "direct-p50-µs")
		b.ReportMetric(float64(rp50.Microseconds()), "relay-p50-µs")
		b.ReportMetric(float64(percentile(relayed, 0.99).Microseconds()), "relay-p99-µs")
		b.ReportMetric(float64((rp50 - dp50).Microseconds()), "added-p50-µs")
	}
}

// TestRelayProcessHelper is not a test: BenchmarkIdleMemory runs the test
// binary with SOCKERLESS_BENCH_RELAY=1 to get a relay in a process of its
// own, whose resident memory it then reads. It serves on a free loopback
// port, prints it, and stays until its stdin closes.
func TestRelayProcessHelper(t *testing.T) {
	if os.Getenv("SOCKERLESS_BENCH_RELAY") != "1" {
		return
	}
	srv, err := server.New(server.Options{Secret: secret, PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.HTTPServer().Serve(ln)
	fmt.Printf("addr=%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// rss returns a process's resident set size in bytes.
func rss(b *testing.B, pid int) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(st)
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

func relayMetric(b *testing.B, base, name string) int64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// settle waits for a process's RSS to stop growing and returns it.
func settle(b *testing.B, pid int) int64 {
	prev := rss(b, pid)
	for range 20 {
		time.Sleep(300 * time.Millisecond)
		cur := rss(b, pid)
		if cur <= prev+(64<<10) {
			return cur
		}
		prev = cur
	}
	return prev
}

// BenchmarkIdleMemory connects 10,000 idle agents (minimal WebSocket
// clients holding a control connection each) to a relay running in its
// own process, then opens 1,000 sessions that stay open without traffic,
// with WebSocket legs and then 1,000 more with raw legs (two kernel pipes
// each while spliced), and reports the relay's resident memory per agent
// and per session, and its descriptors per raw session.
func BenchmarkIdleMemory(b *testing.B) {
	const agents, sessions = 10000, 1000
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRelayProcessHelper$")
		cmd.Env = append(os.Environ(), "SOCKERLESS_BENCH_RELAY=1")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "addr=") {
			b.Fatalf("relay helper: %q %v", line, err)
		}
		addr := strings.TrimSpace(strings.TrimPrefix(line, "addr="))
		base := "http://" + addr
		pid := cmd.Process.Pid
		start := settle(b, pid)

		d := &websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256}
		conns := make([]*websocket.Conn, 0, agents)
		for i := range agents {
			c := fmt.Sprintf("idle-%d", i)
			ws, _, err := d.Dial("ws://"+addr+wsclient.PathAgent+"?container="+c, map[string][]string{"Authorization": {"Bearer " + ticket.AgentToken(secret, c)}})
			if err != nil {
				b.Fatalf("agent %d: %v", i, err)
			}
			conns = append(conns, ws)
		}
		for relayMetric(b, base, "sockerless_relay_agents_connected") < agents {
			time.Sleep(50 * time.Millisecond)
		}
		withAgents := settle(b, pid)

		// Sessions: the first 1,000 agents each get one, joined by the
		// agent and left open without traffic.
		var open []io.Closer
		openIdle(b, addr, conns, 0, sessions, &open, func(path, bearer string) (io.Closer, error) {
			ws, _, err := d.Dial("ws://"+addr+path, map[string][]string{"Authorization": {"Bearer " + bearer}})
			return ws, err
		})
		for relayMetric(b, base, "sockerless_relay_sessions_open") < sessions {
			time.Sleep(50 * time.Millisecond)
		}
		withSessions := settle(b, pid)

		// Raw sessions: the next 1,000 agents each get one with raw legs.
		fdsBefore := openFDs(b, pid)
		var raws []io.Closer
		openIdle(b, addr, conns, sessions, 2*sessions, &raws, func(path, bearer string) (io.Closer, error) {
			return rawJoin(addr, path, bearer)
		})
		for relayMetric(b, base, "sockerless_relay_sessions_open") < 2*sessions {
			time.Sleep(50 * time.Millisecond)
		}
		withRaw := settle(b, pid)
		b.ReportMetric(float64(withRaw-withSessions)/sessions/1024, "KiB/raw-session")
		b.ReportMetric(float64(openFDs(b, pid)-fdsBefore)/sessions, "fds/raw-session")
		for _, c := range raws {
			c.Close()
		}

		perAgent := float64(withAgents-start) / agents
		perSession := float64(withSessions-withAgents) / sessions
		b.ReportMetric(float64(start)/(1<<20), "base-MiB")
		b.ReportMetric(perAgent/1024, "KiB/agent")
		b.ReportMetric(perSession/1024, "KiB/session")
		b.ReportMetric(float64(withAgents)/(1<<20), "MiB@10k-agents")
		for _, c := range open {
			c.Close()
		}
		for _, c := range conns {
			c.Close()
		}
		stdin.Close()
		cmd.Wait()
	}
}

// openFDs counts pid's open descriptors.
func openFDs(b *testing.B, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	return len(ents)
}

// rawJoin opens an agent's data stream at path as a raw stream
// (wsclient.RawProtocol), as the agent does, and returns its connection.
func rawJoin(addr, path, bearer string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\nAuthorization: Bearer %s\r\n\r\n", path, addr, wsclient.RawProtocol, bearer)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("raw join: %s", resp.Status)
	}
	return nc, nil
}

// openIdle opens an attach session for each of agents[from:to]
// (container idle-N, whose control connection is agents[i]), both legs
// dialled with join (the shim's with the ticket, the agent's with its
// token), and adds the legs to legs; the sessions stay without traffic.
func openIdle(b *testing.B, addr string, agents []*websocket.Conn, from, to int, legs *[]io.Closer, join func(path, bearer string) (io.Closer, error)) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := fmt.Sprintf("idle-%d", i)
			sid := fmt.Sprintf("sess-%d", i)
			tok, _ := ticket.Sign(secret, ticket.Grant{Container: c, Session: sid, Kind: ticket.KindAttach, Expires: time.Now().Add(time.Minute).Unix()})
			shim := make(chan io.Closer, 1)
			go func() {
				sc, err := join(wsclient.PathStream, tok)
				if err != nil {
					b.Errorf("session %d: %v", i, err)
					sc = nil
				}
				shim <- sc
			}()
			// The relay offers the session on the agent's control
			// connection; the agent joins it.
			if _, _, err := agents[i].ReadMessage(); err != nil {
				b.Errorf("offer %d: %v", i, err)
				return
			}
			ac, err := join(wsclient.PathAgentSession+"?container="+c+"&session="+sid, ticket.AgentToken(secret, c))
			if err != nil {
				b.Errorf("join %d: %v", i, err)
				return
			}
			sc := <-shim
			mu.Lock()
			*legs = append(*legs, ac)
			if sc != nil {
				*legs = append(*legs, sc)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
}
