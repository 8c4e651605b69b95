package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/sockerless/sockerless/providers/memory/sandbox"
)

// TestHardeningBackgroundBomb is issue 12's bomb of background jobs of
// functions: its goroutines count against its container's PIDs ceiling
// (the default one here), so it is refused inside its container while a
// second container keeps answering docker exec.
func TestHardeningBackgroundBomb(t *testing.T) {
	s := memoryServer(t)
	runSteps(t, s, []step{d(0, ``, "run", "-d", "--name", "bystander", "alpine:3.20", "sleep", "600")})
	bin, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	bomb := exec.Command(bin, "run", "--name", "bomb", "alpine:3.20", "sh", "-c", `f(){ f & f & wait; }; f`)
	bomb.Env = append(os.Environ(), "DOCKER_HOST="+s.dockerHost, "DOCKER_CONFIG="+s.configDir)
	stderr, err := bomb.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bomb.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.docker(t, "", "rm", "-f", "bomb", "bystander")
		_ = bomb.Wait()
	}()
	// The bomb's own shell says when it is refused.
	sc := bufio.NewScanner(stderr)
	for !strings.Contains(sc.Text(), "can't fork") {
		if !sc.Scan() {
			t.Fatalf("the bomb ended without being refused: %v", sc.Err())
		}
	}
	// The CLI's stderr is read on, so the bomb's messages never wait
	// for this test.
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	// Held by its container's ceiling (1,024 processes, 4 goroutines
	// each), far below the daemon-wide one (sandbox.DefaultMaxGoroutines).
	n := runtime.NumGoroutine()
	t.Logf("daemon goroutines with the bomb refused: %d", n)
	if n > sandbox.DefaultMaxGoroutines/2 {
		t.Fatalf("the bomb was held only by the daemon-wide ceiling: %d goroutines", n)
	}
	runSteps(t, s, []step{
		d(0, `^ok$`, "exec", "bystander", "echo", "ok"),
		d(0, `^ok$`, "exec", "bystander", "sh", "-c", "echo ok | cat"),
		d(0, `^ok$`, "run", "--rm", "alpine:3.20", "echo", "ok"),
	})
}
