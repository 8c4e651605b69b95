package docker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

var (
	engine    dockerengine.Shared
	agentPath string // built by TestMain
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sl-agent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentPath, err = BuildAgent(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if err := engine.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// BuildAgent builds a static sockerless-agent into dir.
func BuildAgent(dir string) (string, error) {
	out := filepath.Join(dir, "sockerless-agent")
	cmd := exec.Command("go", "build", "-tags", "osusergo netgo", "-o", out, "github.com/sockerless/sockerless/cmd/sockerless-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building sockerless-agent: %w\n%s", err, b)
	}
	return out, nil
}

// sockerless is an embedded Sockerless with the docker provider on the
// shared engine, listening on a socket of its own.
type sockerless struct {
	host, config string
	eng          *dockerengine.Engine
}

func start(t testing.TB) *sockerless {
	t.Helper()
	eng := engine.Get(t)
	dir := t.TempDir()
	s, err := embedded.New(context.Background(), embedded.Options{Docker: embedded.DockerOptions{Host: eng.Host, AgentPath: agentPath}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.Close()
	})
	sl := &sockerless{host: "unix://" + filepath.Join(dir, "d.sock"), config: t.TempDir(), eng: eng}
	// The engine has busybox; Sockerless learns of it as a pull would.
	sl.ok(t, "pull", "-q", "busybox")
	return sl
}

// docker runs the docker CLI against Sockerless with stdin; it returns the
// stdout, stderr and exit code.
func (s *sockerless) docker(t testing.TB, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return s.dockerWithin(t, 2*time.Minute, stdin, args...)
}

// dockerWithin is docker with a hang guard of within instead of two
// minutes, for commands that wait for something whose time grows with the
// machine's load.
func (s *sockerless) dockerWithin(t testing.TB, within time.Duration, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config, "DOCKER_CLI_HINTS=false")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("docker %v timed out; output so far: %s %s", args, out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

// ok runs the docker CLI and fails t unless it exits 0; it returns stdout.
func (s *sockerless) ok(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := s.docker(t, "", args...)
	if code != 0 {
		t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestRunRemoveExitCode(t *testing.T) {
	s := start(t)
	out, errOut, code := s.docker(t, "", "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Fatalf("run --rm: exit %d, stdout %q, stderr %q; want 3, \"out\\n\", \"err\\n\"", code, out, errOut)
	}
	// The workload ran on the engine, and --rm removed it there too (in
	// the background: waited for through the engine's events).
	s.waitEngine(t, func() bool { return s.engineContainers(t) == "" }, "type=container", "event=destroy")
}

// engineContainers lists the engine's containers (all states).
func (s *sockerless) engineContainers(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("docker", "ps", "-aq")
	cmd.Env = s.eng.Env()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps on the engine: %v: %s", err, b)
	}
	return strings.TrimSpace(string(b))
}

// TestImageIsTheEngines: a pull through Sockerless records the engine's
// image, with its id and config.
func TestImageIsTheEngines(t *testing.T) {
	s := start(t)
	got := s.ok(t, "image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox")
	cmd := exec.Command("docker", "image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox")
	cmd.Env = s.eng.Env()
	want, err := cmd.CombinedOutput()
	if err != nil || got != string(want) {
		t.Fatalf("Sockerless image %q, engine image %q (%v)", got, want, err)
	}
}

func TestExec(t *testing.T) {
	s := start(t)
	id := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sleep", "300"))
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"env workdir user", "", []string{"exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", id, "sh", "-c", "echo $FOO; pwd; id -u"}, "bar\n/tmp\n65534\n"},
		{"stdin", "hello\n", []string{"exec", "-i", id, "cat"}, "hello\n"},
		{"tty", "", []string{"exec", "-t", id, "tty"}, "/dev/pts/0\r\n"},
		{"exit code", "", []string{"exec", id, "sh", "-c", "exit 4"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := s.docker(t, tc.stdin, tc.args...)
			wantCode := 0
			if tc.name == "exit code" {
				wantCode = 4
			}
			if out != tc.want || code != wantCode {
				t.Fatalf("stdout %q (stderr %q) exit %d; want %q exit %d", out, errOut, code, tc.want, wantCode)
			}
		})
	}
	// The main process is the workload's, not the agent's, in docker top.
	if top := s.ok(t, "top", id); !strings.Contains(top, "sleep 300") || strings.Contains(top, "sockerless-agent") {
		t.Fatalf("top:\n%s", top)
	}
}

func TestLogsFollowWait(t *testing.T) {
	s := start(t)
	id := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; done; echo e >&2; exit 5"))
	if got := s.ok(t, "wait", id); got != "5\n" {
		t.Fatalf("wait = %q, want 5", got)
	}
	out, errOut, code := s.docker(t, "", "logs", "-f", id)
	if code != 0 || out != "1\n2\n3\n" || errOut != "e\n" {
		t.Fatalf("logs -f: exit %d stdout %q stderr %q", code, out, errOut)
	}
}

func TestStopKill(t *testing.T) {
	s := start(t)
	id := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sleep", "300"))
	s.ok(t, "stop", "-t", "1", id)
	if st := strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.State.Status}}", id)); st != "exited" {
		t.Fatalf("after stop: %s", st)
	}
	id2 := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sleep", "300"))
	s.ok(t, "kill", id2)
	if got := strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id2)); got != "exited 137" {
		t.Fatalf("after kill: %s, want exited 137", got)
	}
}

func TestCopyBothWays(t *testing.T) {
	s := start(t)
	id := strings.TrimSpace(s.ok(t, "run", "-d", "busybox", "sleep", "300"))
	dir := t.TempDir()
	src := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(src, []byte("payload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok(t, "cp", src, id+":/tmp/in.txt")
	if got := s.ok(t, "exec", id, "cat", "/tmp/in.txt"); got != "payload\n" {
		t.Fatalf("copied in: %q", got)
	}
	s.ok(t, "cp", id+":/etc/passwd", filepath.Join(dir, "passwd"))
	b, err := os.ReadFile(filepath.Join(dir, "passwd"))
	if err != nil || !strings.HasPrefix(string(b), "root:x:0:0:root:/root:/bin/sh\n") {
		t.Fatalf("copied out: %q %v", b, err)
	}
}

func TestHealthCheck(t *testing.T) {
	s := start(t)
	id := strings.TrimSpace(s.ok(t, "run", "-d", "--health-cmd", "test -f /tmp/ready", "--health-interval", "200ms", "--health-retries", "1", "busybox", "sleep", "300"))
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute) // hang guard
		for {
			got := strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.State.Health.Status}}", id))
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health stayed %q, want %q", got, want)
			}
			time.Sleep(100 * time.Millisecond) // polling pace
		}
	}
	waitFor("unhealthy")
	s.ok(t, "exec", id, "touch", "/tmp/ready")
	waitFor("healthy")
}

func TestAttach(t *testing.T) {
	s := start(t)
	out, errOut, code := s.docker(t, "abc\n", "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got $x")
	if code != 0 || out != "got abc\n" {
		t.Fatalf("run -i: exit %d stdout %q stderr %q", code, out, errOut)
	}
	// A second start of the same container attaches to the new run (the
	// GitLab helper's reuse): the first run's agent link must be gone.
	helper := strings.TrimSpace(s.ok(t, "create", "busybox", "echo", "run"))
	for i := 0; i < 2; i++ {
		if out := s.ok(t, "start", "-a", helper); out != "run\n" {
			t.Fatalf("start -a #%d: %q", i+1, out)
		}
	}
	id := strings.TrimSpace(s.ok(t, "create", "-i", "busybox", "sh", "-c", "read x; echo got $x; exit 2"))
	out, errOut, code = s.docker(t, "def\n", "start", "-ai", id)
	if code != 2 || out != "got def\n" {
		t.Fatalf("start -ai: exit %d stdout %q stderr %q", code, out, errOut)
	}
}
