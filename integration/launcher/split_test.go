package launcher_test

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
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func start(t *testing.T, bin string, env ...string) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), log.String())
		}
	})
}

// TestSplitModeWithLauncher runs shim, functions (with the local workload
// launcher), relay and one sockerless-agent per container as separate
// processes on loopback, and drives them with the docker CLI.
func TestSplitModeWithLauncher(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../../cmd/sockerless", "../../cmd/sockerless-relay", "../../cmd/sockerless-agent", "./functions-launcher")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rport, fport := freePort(t), freePort(t)
	common := []string{"SOCKERLESS_SECRET=split-secret", "SOCKERLESS_TOKEN=split-token"}
	start(t, dir+"/sockerless-relay", append(common, "PORT="+rport)...)
	start(t, dir+"/functions-launcher", append(common, "PORT="+fport, "SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+rport, "SOCKERLESS_AGENT_BINARY="+dir+"/sockerless-agent")...)
	sock := filepath.Join(dir, "d.sock")
	start(t, dir+"/sockerless", append(common, "SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:"+fport, "SOCKERLESS_LISTEN=unix://"+sock)...)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
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
	// Functions refuses requests without the bearer token.
	resp, err := http.Get("http://127.0.0.1:" + fport + "/v1.50/containers/json")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous request to functions: %v %v", resp, err)
	}
	cfg := filepath.Join(dir, "dockercfg")
	os.MkdirAll(cfg, 0o700)
	docker := func(stdin string, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+cfg)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		return string(out), code
	}
	if out, code := docker("", "pull", "alpine"); code != 0 {
		t.Fatalf("pull: %s", out)
	}
	if out, code := docker("", "run", "-d", "--name", "box", "alpine", "sleep", "300"); code != 0 {
		t.Fatalf("run -d: %s", out)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB through stdin
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
		code  int
	}{
		{"exec output", "", []string{"exec", "box", "sh", "-c", "echo inside"}, "inside\n", 0},
		{"exec exit code", "", []string{"exec", "box", "sh", "-c", "exit 7"}, "", 7},
		{"exec not found", "", []string{"exec", "box", "no-such-cmd"}, "", 127},
		{"exec signal", "", []string{"exec", "box", "sh", "-c", "kill -KILL $$"}, "", 137},
		{"exec stdin", big, []string{"exec", "-i", "box", "wc", "-c"}, fmt.Sprintf("%d\n", len(big)), 0},
		{"run attach", "", []string{"run", "--rm", "alpine", "sh", "-c", "echo hello"}, "hello\n", 0},
		{"run exit code", "", []string{"run", "--rm", "alpine", "sh", "-c", "exit 5"}, "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := docker(tt.stdin, tt.args...)
			if code != tt.code || (tt.want != "" && strings.TrimLeft(out, " ") != tt.want) {
				t.Errorf("docker %v = %q exit %d, want %q exit %d", tt.args, out, code, tt.want, tt.code)
			}
		})
	}
	docker("", "rm", "-f", "box")
}
