package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// TestDockerRunInteractiveTTY runs `docker run -it` under a real
// pseudo-terminal (util-linux script) against the memory provider: the
// CLI puts its terminal in raw mode, attaches with a TTY, resizes, and
// forwards typed input; inside, `tty` and `[ -t ]` see a terminal, output
// has the terminal's \r\n, input reaches `read`, and the exit code comes
// back through the CLI.
func TestDockerRunInteractiveTTY(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("util-linux script is required on PATH (.ci/tools.sh installs bsdutils): %v", err)
	}
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	if out, rc := s.docker(t, "", "pull", "alpine:3.20"); rc != 0 {
		t.Fatalf("pull: %s", out)
	}
	inner := `tty; [ -t 0 ] && [ -t 1 ] && echo on-terminal; echo hi; read x; echo "got=$x"; exit 3`
	cmdline := "docker run -it --rm alpine:3.20 sh -c '" + inner + "'"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, scriptBin, "-qec", cmdline, "/dev/null")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.dockerHost, "DOCKER_CONFIG="+s.configDir, "DOCKER_CLI_HINTS=false", "TERM=xterm")
	cmd.Stdin = strings.NewReader("typed-input\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("timed out; output: %q", out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3; output %q", code, out.String())
	}
	// The pty may echo the typed line before the CLI switches to raw
	// mode; everything else is the container's output, with \r\n.
	re := regexp.MustCompile(`(?s)^(typed-input\r\n)?/dev/pts/0\r\non-terminal\r\nhi\r\ngot=typed-input\r\n$`)
	if !re.MatchString(out.String()) {
		t.Errorf("output %q does not match %s", out.String(), re)
	}
	// --rm removed the container.
	if o, _ := s.docker(t, "", "ps", "-aq"); strings.TrimSpace(o) != "" {
		t.Errorf("containers left: %s", o)
	}
}
