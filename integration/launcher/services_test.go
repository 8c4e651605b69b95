package launcher_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// dockerLong runs the CLI with a long hang guard (bulk transfers).
func dockerLong(t *testing.T, e *splitEnv, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out, err := e.command(ctx, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return string(out), code
}

// TestServiceNetworking: workloads on one user network reach each other
// by network alias, container name and address, each connection carried
// by the client's agent through the relay to the peer's agent, which
// connects to the port in its own workload: 50 concurrent connections of
// 64 MiB each come back intact (SHA-256 checked), one relay session each.
// A container on another network is refused the same alias.
func TestServiceNetworking(t *testing.T) {
	e := startSplit(t)
	e.mustDocker(t, "pull", "alpine")
	e.mustDocker(t, "network", "create", "ci-net")
	e.mustDocker(t, "network", "create", "ci-other")
	t.Cleanup(func() {
		e.docker(t, nil, "rm", "-f", "db", "cli", "cli2", "cli3")
		e.docker(t, nil, "network", "rm", "ci-net", "ci-other")
	})
	bin := e.dir + "/echo"
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/echo").CombinedOutput(); err != nil {
		t.Fatalf("go build echo: %v\n%s", err, out)
	}
	port := freePort(t)
	e.mustDocker(t, "run", "-d", "--name", "db", "--network", "ci-net", "--network-alias", "database", "alpine", bin, port)
	waitUntil(t, 30*time.Second, "db listening", func() bool {
		out, _ := e.docker(t, nil, "logs", "db")
		return strings.Contains(out, "listening")
	})
	ip := e.mustDocker(t, "inspect", "--format", `{{(index .NetworkSettings.Networks "ci-net").IPAddress}}`, "db")

	// By alias: 50 connections of 64 MiB at once.
	l1 := freePort(t)
	if l1 == port {
		t.Fatal("the forward and the server share a port")
	}
	sessions := e.metric(t, "sockerless_relay_sessions_total")
	out, code := dockerLong(t, e, "run", "--name", "cli", "--network", "ci-net",
		"-e", "SOCKERLESS_PEERS=127.0.0.1:"+l1+"=database:"+port, "alpine", bin, "client", "127.0.0.1:"+l1, "50", "67108864")
	if code != 0 || strings.TrimSpace(out) != "ok 50" {
		t.Fatalf("50 x 64 MiB by alias: exit %d: %s", code, out)
	}
	if d := e.metric(t, "sockerless_relay_sessions_total") - sessions; d < 50 {
		t.Fatalf("%d relay sessions for 50 connections", d)
	}

	// By container name and by address.
	l2, l3 := freePort(t), freePort(t)
	out, code = dockerLong(t, e, "run", "--name", "cli2", "--network", "ci-net",
		"-e", "SOCKERLESS_PEERS=127.0.0.1:"+l2+"=db:"+port+",127.0.0.1:"+l3+"="+ip+":"+port, "alpine",
		"sh", "-c", bin+" client 127.0.0.1:"+l2+" 3 100000 && "+bin+" client 127.0.0.1:"+l3+" 3 100000")
	if code != 0 || out != "ok 3\nok 3\n" {
		t.Fatalf("by name and address: exit %d: %s", code, out)
	}

	// Another network: the alias does not resolve for it.
	l4 := freePort(t)
	out, code = dockerLong(t, e, "run", "--name", "cli3", "--network", "ci-other",
		"-e", "SOCKERLESS_PEERS=127.0.0.1:"+l4+"=database:"+port, "alpine", bin, "client", "127.0.0.1:"+l4, "1", "1000")
	if code != 1 || !strings.HasPrefix(out, "fail:") {
		t.Fatalf("from another network: exit %d: %s", code, out)
	}
}
