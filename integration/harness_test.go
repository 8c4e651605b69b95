package integration

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// server is one embedded Sockerless listening on a unix socket.
type server struct {
	sock       string
	dockerHost string
	configDir  string
	s          *embedded.Sockerless
}

// startServer starts an embedded Sockerless with the synthetic provider
// on a socket in a temporary directory, stopped at the end of the test.
func startServer(t testing.TB, opts embedded.Options) *server {
	t.Helper()
	dir, err := os.MkdirTemp("", "sl-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	s, err := embedded.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.Close()
	})
	cfg := filepath.Join(dir, "dockercfg")
	os.MkdirAll(cfg, 0o700)
	return &server{sock: sock, dockerHost: "unix://" + sock, configDir: cfg, s: s}
}

// httpClient talks HTTP to the server's socket.
func (s *server) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", s.sock)
	}}}
}

// docker runs the docker CLI against s with stdin and returns its
// combined output and exit code.
func (s *server) docker(t testing.TB, stdin string, args ...string) (string, int) {
	t.Helper()
	return s.dockerWithin(t, time.Minute, stdin, args...)
}

// dockerWithin is docker with a hang guard of within instead of a minute,
// for commands whose work grows with the machine's load (a container that
// allocates a GiB under the race detector).
func (s *server) dockerWithin(t testing.TB, within time.Duration, stdin string, args ...string) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("the docker CLI is required on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.dockerHost, "DOCKER_CONFIG="+s.configDir, "DOCKER_CLI_HINTS=false")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("docker %v timed out; output so far: %s", args, out.String())
	}
	return out.String(), code
}
