package launcher_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/gorilla/websocket"
	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/frame"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
)

const splitSecret = "split-secret"

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// proc is a started binary whose output is kept for failure reports.
type proc struct {
	cmd  *exec.Cmd
	log  *syncBuf
	done chan struct{}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t testing.TB, bin string, env ...string) *proc {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, log: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), p.log.String())
		}
	})
	return p
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// splitEnv is shim, functions (with the launcher provider), relay and one
// sockerless-agent per container, each a process on loopback.
type splitEnv struct {
	dir, sock, cfg, rport, fport string
	relayEnv                     []string
	relay                        *proc
}

// splitPollWindow is functions' poll window in these tests: short, so
// long waits and long stops cross several polls.
const splitPollWindow = 2 * time.Second

func startSplit(t testing.TB) *splitEnv {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../../cmd/sockerless", "../../cmd/sockerless-relay", "../../cmd/sockerless-agent", "./functions-launcher")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := &splitEnv{dir: dir, rport: freePort(t), fport: freePort(t), sock: filepath.Join(dir, "d.sock"), cfg: filepath.Join(dir, "dockercfg")}
	common := []string{"SOCKERLESS_SECRET=" + splitSecret, "SOCKERLESS_TOKEN=split-token"}
	e.relayEnv = append(common, "PORT="+e.rport, "SOCKERLESS_HANDSHAKE_TIMEOUT=1s")
	e.relay = start(t, dir+"/sockerless-relay", e.relayEnv...)
	start(t, dir+"/functions-launcher", append(common, "PORT="+e.fport, "SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+e.rport,
		"SOCKERLESS_AGENT_BINARY="+dir+"/sockerless-agent", "SOCKERLESS_POLL_WINDOW="+splitPollWindow.String())...)
	// The shim reaches functions through a front that, like API Gateway
	// (29 s), gives up on an answer that takes too long: every request
	// must come back within the poll window.
	target, _ := url.Parse("http://127.0.0.1:" + e.fport)
	front := httputil.NewSingleHostReverseProxy(target)
	front.Transport = &http.Transport{ResponseHeaderTimeout: splitPollWindow + 2*time.Second}
	fs := httptest.NewServer(front)
	t.Cleanup(fs.Close)
	start(t, dir+"/sockerless", append(common, "SOCKERLESS_CONTROL_PLANE_URL="+fs.URL, "SOCKERLESS_LISTEN=unix://"+e.sock)...)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
	}}}
	for i := 0; ; i++ {
		resp, err := client.Get("http://d/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			t.Fatalf("shim did not answer /_ping: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.MkdirAll(e.cfg, 0o700)
	return e
}

func (e *splitEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+e.sock, "DOCKER_CONFIG="+e.cfg)
	return cmd
}

// docker runs the CLI with stdin and returns its combined output and exit
// status.
func (e *splitEnv) docker(t testing.TB, stdin io.Reader, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return string(out), code
}

func (e *splitEnv) mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, code := e.docker(t, nil, args...)
	if code != 0 {
		t.Fatalf("docker %v: exit %d: %s", args, code, out)
	}
	return strings.TrimSpace(out)
}

// metric reads one value from the relay's /metrics.
func (e *splitEnv) metric(t testing.TB, name string) int64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + e.rport + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// offersDirect reports whether functions offers a direct connection to
// peer, asked as the agent of container from (on a network of peer's)
// would: whether peer's agent reported where it takes them.
func (e *splitEnv) offersDirect(t testing.TB, from, peer string) bool {
	t.Helper()
	id := strings.TrimSpace(e.mustDocker(t, "inspect", "--format", "{{.Id}}", from))
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+e.fport+"/_sockerless/agent/"+id+"/peer?port=1&name="+peer, nil)
	req.Header.Set("Authorization", "Bearer "+ticket.AgentToken([]byte(splitSecret), id))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pt controlapi.PeerTicket
	if err := json.NewDecoder(resp.Body).Decode(&pt); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("peer ticket for %s: %s, %v", peer, resp.Status, err)
	}
	return pt.Direct != nil && len(pt.Direct.Addrs) > 0
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveCat is a running `docker exec -i box cat`: a session held open
// through the relay while other things happen.
type liveCat struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	in     io.WriteCloser
	lines  chan string
	done   chan error
}

func (e *splitEnv) startCat(t *testing.T, container string) *liveCat {
	t.Helper()
	cmd := e.command(context.Background(), "exec", "-i", container, "cat")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &liveCat{cmd: cmd, stderr: &stderr, in: in, lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	c.echo(t, "hello")
	return c
}

// echo checks the session still carries a line both ways.
func (c *liveCat) echo(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.in, s+"\n"); err != nil {
		t.Fatalf("live session: write: %v", err)
	}
	select {
	case got, ok := <-c.lines:
		if !ok || got != s {
			t.Fatalf("live session echoed %q (open %v), want %q; stderr %q", got, ok, s, c.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("live session did not echo %q", s)
	}
}

// TestSplitModeWithLauncher runs shim, functions (with the local workload
// launcher), relay and one sockerless-agent per container as separate
// processes on loopback, and drives them with the docker CLI.
func TestSplitModeWithLauncher(t *testing.T) {
	e := startSplit(t)
	top := t
	// Functions refuses requests without the bearer token.
	resp, err := http.Get("http://127.0.0.1:" + e.fport + "/v1.50/containers/json")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous request to functions: %v %v", resp, err)
	}
	e.mustDocker(t, "pull", "alpine")
	e.mustDocker(t, "run", "-d", "--name", "box", "alpine", "sleep", "300")
	e.mustDocker(t, "run", "-d", "--name", "box2", "alpine", "sleep", "300")
	work := t.TempDir()
	noexec := filepath.Join(work, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\necho never\n"), 0o644)

	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"exec output", []string{"exec", "box", "sh", "-c", "echo inside"}, "inside\n", 0},
		{"exec exit 0", []string{"exec", "box", "true"}, "", 0},
		{"exec exit 1", []string{"exec", "box", "false"}, "", 1},
		{"exec exit 7", []string{"exec", "box", "sh", "-c", "exit 7"}, "", 7},
		{"exec not executable", []string{"exec", "box", noexec}, "", 126},
		{"exec not found", []string{"exec", "box", "no-such-cmd"}, "", 127},
		{"exec killed", []string{"exec", "box", "sh", "-c", "kill -KILL $$"}, "", 137},
		{"exec user", []string{"exec", "-u", "0:0", "box", "id", "-u"}, "0\n", 0},
		{"exec workdir", []string{"exec", "-w", work, "box", "pwd"}, work + "\n", 0},
		{"exec env", []string{"exec", "-e", "GREETING=hi there", "box", "sh", "-c", "echo $GREETING"}, "hi there\n", 0},
		{"run attach", []string{"run", "--rm", "alpine", "sh", "-c", "echo hello"}, "hello\n", 0},
		{"run exit code", []string{"run", "--rm", "alpine", "sh", "-c", "exit 5"}, "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := e.docker(t, nil, tt.args...)
			if code != tt.code || (tt.want != "" && strings.TrimLeft(out, " ") != tt.want) {
				t.Errorf("docker %v = %q exit %d, want %q exit %d", tt.args, out, code, tt.want, tt.code)
			}
		})
	}

	t.Run("stop outlasting the poll window", func(t *testing.T) {
		// The main process ignores SIGTERM, so the stop waits its whole
		// grace period, longer than the front lets one request take.
		e.mustDocker(t, "run", "-d", "--name", "stubborn", "alpine", "sh", "-c", "trap '' TERM; sleep 300 & wait")
		began := time.Now()
		if out := e.mustDocker(t, "stop", "-t", "6", "stubborn"); strings.TrimSpace(out) != "stubborn" {
			t.Fatalf("docker stop = %q", out)
		}
		if d := time.Since(began); d < 6*time.Second {
			t.Fatalf("docker stop returned after %v, before the 6 s grace period", d)
		}
		if out := e.mustDocker(t, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "stubborn"); strings.TrimSpace(out) != "false 137" {
			t.Fatalf("after stop: %q, want false 137", out)
		}
	})

	t.Run("exec stdin 50MiB checksummed", func(t *testing.T) {
		blob := filepath.Join(work, "blob")
		f, _ := os.Create(blob)
		h := sha256.New()
		io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.Reader, 50<<20))
		f.Close()
		want := hex.EncodeToString(h.Sum(nil))
		in, _ := os.Open(blob)
		defer in.Close()
		out, code := e.docker(t, in, "exec", "-i", "box", "sha256sum")
		if code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("sha256sum on the far side = %q exit %d, want %s", out, code, want)
		}
	})

	t.Run("exec -t with resize", func(t *testing.T) {
		cmd := e.command(context.Background(), "exec", "-it", "box", "sh", "-c", "stty size; while sleep 0.1; do stty size; done")
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait(); ptmx.Close() }()
		var out syncBuf
		go io.Copy(&out, ptmx)
		waitUntil(t, 15*time.Second, "the initial size 30 100 (got "+strconv.Quote(out.String())+")", func() bool { return strings.Contains(out.String(), "30 100") })
		pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
		waitUntil(t, 15*time.Second, "the resized 40 120", func() bool { return strings.Contains(out.String(), "40 120") })
	})

	t.Run("attach before start", func(t *testing.T) {
		e.mustDocker(t, "create", "-i", "--name", "early", "alpine", "sh", "-c", "read line; echo got:$line")
		out, code := e.docker(t, strings.NewReader("typed early\n"), "start", "-a", "-i", "early")
		if code != 0 || out != "got:typed early\n" {
			t.Errorf("start -ai = %q exit %d", out, code)
		}
	})

	t.Run("two concurrent attaches", func(t *testing.T) {
		gate := filepath.Join(work, "gate")
		e.mustDocker(t, "run", "-d", "--name", "two", "alpine", "sh", "-c", "while [ ! -f "+gate+" ]; do sleep 0.05; done; echo both; exit 3")
		// Count pairings, not open sessions: a session of an earlier
		// subtest may still be closing, which would lower the gauge.
		before := e.metric(t, "sockerless_relay_sessions_total")
		type res struct {
			out  string
			code int
		}
		results := make(chan res, 2)
		for range 2 {
			go func() {
				out, code := e.docker(t, nil, "attach", "two")
				results <- res{out, code}
			}()
		}
		waitUntil(t, 20*time.Second, "two attach sessions", func() bool { return e.metric(t, "sockerless_relay_sessions_total") >= before+2 })
		os.WriteFile(gate, nil, 0o644)
		for range 2 {
			r := <-results
			if r.out != "both\n" || r.code != 3 {
				t.Errorf("attach = %q exit %d, want \"both\\n\" exit 3", r.out, r.code)
			}
		}
	})

	t.Run("cp both ways", func(t *testing.T) {
		src := filepath.Join(work, "cp-src")
		os.MkdirAll(filepath.Join(src, "tree/sub"), 0o755)
		data := make([]byte, 8<<20)
		rand.Read(data)
		os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644)
		os.WriteFile(filepath.Join(src, "tree/sub/small.txt"), []byte("small\n"), 0o600)
		dst := filepath.Join(work, "in-container")
		os.MkdirAll(dst, 0o755)
		sum := fmt.Sprintf("%x", sha256.Sum256(data))
		toAgent := e.metric(t, `sockerless_relay_bytes_total{direction="to_agent"}`)
		e.mustDocker(t, "cp", filepath.Join(src, "big.bin"), "box:"+dst+"/")
		if got := e.mustDocker(t, "exec", "box", "sha256sum", dst+"/big.bin"); !strings.HasPrefix(got, sum) {
			t.Errorf("checksum in the container = %q, want %s", got, sum)
		}
		// The 8 MiB crossed the relay to the agent, not functions.
		if d := e.metric(t, `sockerless_relay_bytes_total{direction="to_agent"}`) - toAgent; d < int64(len(data)) {
			t.Errorf("relay carried %d bytes to the agent for an 8 MiB upload", d)
		}
		e.mustDocker(t, "cp", filepath.Join(src, "tree"), "box:"+dst+"/tree")
		out := filepath.Join(work, "out")
		os.MkdirAll(out, 0o755)
		e.mustDocker(t, "cp", "box:"+dst+"/big.bin", out+"/big.bin")
		if b, _ := os.ReadFile(out + "/big.bin"); !bytes.Equal(b, data) {
			t.Errorf("copied out %d bytes, not the original", len(b))
		}
		e.mustDocker(t, "cp", "box:"+dst+"/tree", out+"/tree")
		if b, _ := os.ReadFile(out + "/tree/sub/small.txt"); string(b) != "small\n" {
			t.Errorf("tree copied out: small.txt = %q", b)
		}
		if o, code := e.docker(t, nil, "cp", "box:"+dst+"/missing", out); code == 0 || !strings.Contains(o, "Could not find the file") {
			t.Errorf("cp of a missing path = %q exit %d", o, code)
		}
		if o, code := e.docker(t, nil, "cp", filepath.Join(src, "big.bin"), "box:"+dst+"/no-such-dir/x/"); code == 0 {
			t.Errorf("cp into a missing directory = %q exit %d", o, code)
		}
	})

	t.Run("health checks", func(t *testing.T) {
		flag := filepath.Join(work, "healthy")
		e.mustDocker(t, "run", "-d", "--name", "hc", "--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2", "alpine", "sleep", "300")
		status := func() string { return e.mustDocker(t, "inspect", "-f", "{{.State.Health.Status}}", "hc") }
		if s := status(); s != "starting" && s != "unhealthy" {
			t.Errorf("health right after start = %q", s)
		}
		waitUntil(t, 15*time.Second, "unhealthy", func() bool { return status() == "unhealthy" })
		os.WriteFile(flag, nil, 0o644)
		waitUntil(t, 15*time.Second, "healthy", func() bool { return status() == "healthy" })
		e.mustDocker(t, "rm", "-f", "hc")
	})

	t.Run("relay killed and restarted mid-session", func(t *testing.T) {
		c := e.startCat(t, "box")
		e.relay.kill()
		select {
		case err := <-c.done:
			if err == nil || !strings.Contains(c.stderr.String(), "lost the stream to the container's agent") {
				t.Errorf("docker exec when its relay died: %v, stderr %q; want a failure saying the stream was lost", err, c.stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("docker exec still hangs 15 s after its relay died")
		}
		e.relay = start(top, e.dir+"/sockerless-relay", e.relayEnv...)
		// The agents reconnect; the next exec reaches them.
		out, code := e.docker(t, nil, "exec", "box", "echo", "after")
		if code != 0 || out != "after\n" {
			t.Errorf("exec after the relay restart = %q exit %d", out, code)
		}
		waitUntil(t, 15*time.Second, "both agents back", func() bool { return e.metric(t, "sockerless_relay_agents_connected") >= 2 })
	})

	t.Run("adversarial", func(t *testing.T) {
		c := e.startCat(t, "box")
		ids := map[string]string{}
		for _, n := range []string{"box", "box2"} {
			ids[n] = e.mustDocker(t, "inspect", "-f", "{{.Id}}", n)
		}
		relayURL := "ws://127.0.0.1:" + e.rport
		sign := func(secret, container string, expires time.Time) string {
			tok, err := ticket.Sign([]byte(secret), ticket.Grant{Container: container, Session: fmt.Sprint(time.Now().UnixNano()), Kind: ticket.KindExec,
				Process: &ticket.Process{Cmd: []string{"echo", "pwned"}}, Expires: expires.Unix()})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		dialStatus := func(u, bearer string) int {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + bearer}})
			if err == nil {
				ws.Close()
				return 101
			}
			if resp == nil {
				t.Fatalf("dial %s: %v", u, err)
			}
			return resp.StatusCode
		}
		attacks := []struct {
			name, reason string
			do           func() bool // reports whether it was refused
		}{
			{"forged ticket", "forged", func() bool {
				return dialStatus(relayURL+wsclient.PathStream, sign("not-the-secret", ids["box"], time.Now().Add(time.Minute))) == 403
			}},
			{"expired ticket", "expired", func() bool {
				return dialStatus(relayURL+wsclient.PathStream, sign(splitSecret, ids["box"], time.Now().Add(-time.Second))) == 403
			}},
			{"agent token for A claiming B", "agent_token", func() bool {
				return dialStatus(relayURL+wsclient.PathAgent+"?container="+ids["box2"], ticket.AgentToken([]byte(splitSecret), ids["box"])) == 401
			}},
			{"ticket for A joined by B's agent", "cross_container", func() bool {
				// A stream for a container with no agent stays pending; B's
				// agent tries to take it.
				ghost := "ghost-container"
				tok, _ := ticket.Sign([]byte(splitSecret), ticket.Grant{Container: ghost, Session: "ghost-session", Kind: ticket.KindExec,
					Process: &ticket.Process{Cmd: []string{"true"}}, Expires: time.Now().Add(time.Minute).Unix()})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go wsclient.Dialer{}.Dial(ctx, relayURL, tok)
				time.Sleep(300 * time.Millisecond)
				return dialStatus(relayURL+wsclient.PathAgentSession+"?container="+ids["box2"]+"&session=ghost-session", ticket.AgentToken([]byte(splitSecret), ids["box2"])) == 403
			}},
			{"oversize frame on a raw stream", "", func() bool {
				// The relay passes a raw stream's bytes without parsing
				// them; the agent's frame reader refuses the frame and
				// ends the session, though its process runs on.
				tok, err := ticket.Sign([]byte(splitSecret), ticket.Grant{Container: ids["box2"], Session: fmt.Sprint(time.Now().UnixNano()), Kind: ticket.KindExec,
					Process: &ticket.Process{Cmd: []string{"sleep", "30"}, Stdin: true}, Expires: time.Now().Add(time.Minute).Unix()})
				if err != nil {
					t.Fatal(err)
				}
				conn, err := wsclient.Dialer{}.Dial(context.Background(), relayURL, tok)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				nc := conn.(*wsclient.Conn).NetConn()
				if conn.(*wsclient.Conn).WebSocket() != nil {
					t.Fatal("the default dialer opened a WebSocket to a ws:// relay")
				}
				var hdr [frame.HeaderSize]byte
				frame.PutHeader(&hdr, frame.Stdin, frame.MaxPayload+64<<10)
				go nc.Write(append(hdr[:], make([]byte, 64<<10)...))
				nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = io.Copy(io.Discard, nc)
				return !isTimeout(err)
			}},
			{"oversize frame", "", func() bool {
				conn, err := wsclient.Dialer{WS: &websocket.Dialer{}}.Dial(context.Background(), relayURL, sign(splitSecret, ids["box2"], time.Now().Add(time.Minute)))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ws := conn.(*wsclient.Conn).WebSocket()
				huge := make([]byte, frame.MaxPayload+64<<10)
				huge[0] = byte(frame.Stdin)
				ws.WriteMessage(websocket.BinaryMessage, huge)
				// The relay closes the session instead of forwarding it.
				ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return !isTimeout(err)
					}
				}
			}},
			{"slow-loris handshake", "", func() bool {
				nc, err := net.Dial("tcp", "127.0.0.1:"+e.rport)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: relay\r\n", wsclient.PathStream)
				start := time.Now()
				for time.Since(start) < 10*time.Second {
					if _, err := nc.Write([]byte("X-Slow: a\r\n")); err != nil {
						return true // cut off
					}
					nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
					var b [512]byte
					if _, err := nc.Read(b[:]); err != nil && !isTimeout(err) {
						return true
					}
				}
				return false
			}},
		}
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				var before int64
				metric := `sockerless_relay_rejected_total{reason="` + a.reason + `"}`
				if a.reason != "" {
					before = e.metric(t, metric)
				}
				if !a.do() {
					t.Errorf("%s was not refused", a.name)
				}
				if a.reason != "" && e.metric(t, metric) != before+1 {
					t.Errorf("refusal not counted as %q", a.reason)
				}
				c.echo(t, "still here after "+a.name)
			})
		}
		if out, code := e.docker(t, nil, "exec", "box2", "echo", "fine"); code != 0 || out != "fine\n" {
			t.Errorf("box2 after the attacks: %q exit %d", out, code)
		}
		c.in.Close()
		if err := <-c.done; err != nil {
			t.Errorf("live session after the attacks: %v", err)
		}
	})

	e.docker(t, nil, "rm", "-f", "box", "box2", "two", "early")
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
