package integration

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// TestPythonDocker runs testdata/python_docker.py with Debian's
// python3-docker against the shim.
func TestPythonDocker(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "testdata/python_docker.py")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.dockerHost)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3-docker: %v\n%s", err, out)
	}
}
