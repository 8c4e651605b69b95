package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// mrFreePort returns a free loopback TCP port.
func mrFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// mrStart starts bin with env added to the environment, kills it at the
// end of t and logs its output if t failed.
func mrStart(t *testing.T, name, bin string, env ...string) *lockedBuffer {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	return log
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mrWait polls ok until it holds or timeout passes.
func mrWait(t *testing.T, what string, timeout time.Duration, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runner is one shim with its own functions process.
type runner struct {
	name string
	sock string
	cfg  string
}

func (r runner) docker(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.sock, "DOCKER_CONFIG="+r.cfg)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("runner %s: docker %v: %v\n%s", r.name, args, err, out)
	}
	return string(out), code
}

func (r runner) mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, code := r.docker(t, args...)
	if code != 0 {
		t.Fatalf("runner %s: docker %v exit %d:\n%s", r.name, args, code, out)
	}
	return out
}

// TestMultiRunnerSharedState runs two runners (shim + sockerless-functions
// each, memory provider) over one DynamoDB Local state store and one relay:
// what one runner creates and starts the other lists, inspects, execs into
// (through the shared relay to the workload's agent, which lives with
// runner A's functions) and removes, and of two runners racing to create
// the same name exactly one wins.
func TestMultiRunnerSharedState(t *testing.T) {
	endpoint := emulators.StartDynamoDB(t)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := "dynamodb://sockerless-multirunner?region=us-east-1&endpoint=" + endpoint
	common := []string{"SOCKERLESS_SECRET=multi-secret", "SOCKERLESS_TOKEN=multi-token"}
	rport := mrFreePort(t)
	mrStart(t, "relay", dir+"/sockerless-relay", append(common, "PORT="+rport)...)

	var runners []runner
	for _, name := range []string{"A", "B"} {
		fport := mrFreePort(t)
		mrStart(t, "functions "+name, dir+"/sockerless-functions", append(common,
			"PORT="+fport,
			"SOCKERLESS_STATE="+state,
			"SOCKERLESS_PROVIDER=memory",
			"SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+rport)...)
		// Wait for functions (the store check at start creates the table)
		// before starting the next one.
		mrWait(t, "functions "+name, 90*time.Second, func() error {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+fport+"/_ping", nil)
			req.Header.Set("Authorization", "Bearer multi-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		sock := filepath.Join(dir, "runner-"+name+".sock")
		mrStart(t, "shim "+name, dir+"/sockerless", append(common,
			"SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:"+fport,
			"SOCKERLESS_LISTEN=unix://"+sock)...)
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		mrWait(t, "shim "+name, 30*time.Second, func() error {
			resp, err := client.Get("http://d/_ping")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		cfg := filepath.Join(dir, "dockercfg-"+name)
		if err := os.MkdirAll(cfg, 0o700); err != nil {
			t.Fatal(err)
		}
		runners = append(runners, runner{name: name, sock: sock, cfg: cfg})
	}
	a, b := runners[0], runners[1]

	a.mustDocker(t, "pull", "alpine:3.20")
	id := strings.TrimSpace(a.mustDocker(t, "create", "--name", "shared", "alpine:3.20", "sleep", "120"))
	if id == "" {
		t.Fatal("create on A printed no id")
	}

	// B sees what A created.
	if out := b.mustDocker(t, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"); !strings.Contains(out, id+" shared") {
		t.Fatalf("docker ps -a on B does not list %s shared:\n%s", id, out)
	}
	var inspected []struct {
		ID     string
		Name   string
		Config struct{ Image string }
	}
	out := b.mustDocker(t, "inspect", "shared")
	if err := json.Unmarshal([]byte(out), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("inspect on B: %v\n%s", err, out)
	}
	if got := inspected[0]; got.ID != id || got.Name != "/shared" || got.Config.Image != "alpine:3.20" {
		t.Fatalf("inspect on B = %+v, want ID %s, name /shared, image alpine:3.20", got, id)
	}

	// Started through A, exec'd through B: B's ticket reaches the agent of
	// A's workload through the shared relay. Output, exit code and a file
	// written through B and read through A prove the exec ran there.
	a.mustDocker(t, "start", "shared")
	if out := b.mustDocker(t, "exec", "shared", "sh", "-c", "echo exec-via-B; echo marked-by-B > /tmp/mark"); strings.TrimSpace(out) != "exec-via-B" {
		t.Fatalf("exec on B printed %q, want exec-via-B", out)
	}
	if out, code := b.docker(t, "exec", "shared", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exec on B of exit 7: exit %d\n%s", code, out)
	}
	if out := a.mustDocker(t, "exec", "shared", "cat", "/tmp/mark"); strings.TrimSpace(out) != "marked-by-B" {
		t.Fatalf("file written by exec through B, read through A = %q", out)
	}
	if out := b.mustDocker(t, "exec", "-i", "shared", "cat"); out != "" {
		t.Fatalf("exec -i cat with empty stdin through B printed %q", out)
	}

	// B removes it; A no longer sees it.
	b.mustDocker(t, "rm", "-f", "shared")
	if out, code := a.docker(t, "inspect", "shared"); code == 0 || !strings.Contains(out, "No such") {
		t.Fatalf("inspect on A after rm on B: exit %d\n%s", code, out)
	}
	if out := a.mustDocker(t, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "shared") {
		t.Fatalf("docker ps -a on A still lists shared:\n%s", out)
	}

	// A and B race to create the same name: exactly one wins.
	type result struct {
		out  string
		code int
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "docker", "create", "--name", "web", "alpine:3.20", "true")
			cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.sock, "DOCKER_CONFIG="+r.cfg)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
				out = append(out, []byte(err.Error())...)
			}
			results[i] = result{string(out), code}
		}()
	}
	close(startGun)
	wg.Wait()
	wins, conflicts := 0, 0
	for _, r := range results {
		switch {
		case r.code == 0:
			wins++
		case strings.Contains(r.out, "Conflict"):
			conflicts++
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("racing creates of web: want one success and one Conflict, got A: exit %d %q; B: exit %d %q",
			results[0].code, results[0].out, results[1].code, results[1].out)
	}
	// Both runners see the single winner.
	for _, r := range runners {
		if out := r.mustDocker(t, "ps", "-a", "--format", "{{.Names}}"); strings.TrimSpace(out) != "web" {
			t.Fatalf("runner %s: ps for web = %q", r.name, out)
		}
	}
	a.mustDocker(t, "rm", "web")
}
