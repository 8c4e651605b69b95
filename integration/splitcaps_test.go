package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestSplitModeAbilities runs the three split-mode binaries on loopback
// with the memory provider and checks abilities of the provider that the
// split-mode wrapper used to hide (providers.PIDReporter, UserChecker,
// Sizer): they answer as in embedded mode. A running container's
// State.Pid is its main process's, not 0; an exec as a user the image
// does not have is refused at create (400, the CLI exits 1 with Docker's
// message, as TestFidelityExecUnknownUser asks of embedded mode), not
// created and ended with 126; inspect --size reports the root
// filesystem's size.
func TestSplitModeAbilities(t *testing.T) {
	e := slSetup(t)
	port := mrFreePort(t)
	mrStart(t, "functions", e.bin+"/sockerless-functions", append(e.functionsEnv(), "PORT="+port, "SOCKERLESS_TOKEN=caps-token")...)
	url := "http://127.0.0.1:" + port
	waitHTTP(t, url+"/_ping", "")
	r := e.shim(t, url, "SOCKERLESS_TOKEN=caps-token")
	r.mustDocker(t, "pull", "alpine:3.20")
	r.mustDocker(t, "run", "-d", "--name", "box", "alpine:3.20", "sleep", "600")
	t.Cleanup(func() { r.docker(t, "rm", "-f", "box") })

	positive := func(what, out string) {
		t.Helper()
		n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil || n <= 0 {
			t.Errorf("%s = %q, want a positive number", what, out)
		}
	}
	positive("State.Pid", r.mustDocker(t, "inspect", "-f", "{{.State.Pid}}", "box"))
	positive("SizeRootFs", r.mustDocker(t, "inspect", "--size", "-f", "{{.SizeRootFs}}", "box"))

	const msg = "unable to find user nosuch: no matching entries in passwd file"
	if out, code := r.docker(t, "exec", "-u", "nosuch", "box", "true"); code != 1 || strings.TrimSpace(out) != "Error response from daemon: "+msg {
		t.Errorf("docker exec -u nosuch: %d %q, want 1 and Docker's message", code, out)
	}
	// The user check does not refuse a user the image has.
	if out := r.mustDocker(t, "exec", "-u", "nobody", "box", "id", "-un"); strings.TrimSpace(out) != "nobody" {
		t.Errorf("docker exec -u nobody id -un = %q, want nobody", out)
	}
}
