package launcher_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/relay/ticket"
	"github.com/sockerless/sockerless/relay/wsclient"
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
// To a peer whose agent takes direct connections they bypass the relay.
// A container on another network is refused the same alias.
func TestServiceNetworking(t *testing.T) {
	e := startSplit(t)
	e.mustDocker(t, "pull", "alpine")
	e.mustDocker(t, "network", "create", "ci-net")
	e.mustDocker(t, "network", "create", "ci-other")
	t.Cleanup(func() {
		e.docker(t, nil, "rm", "-f", "db", "db2", "cli", "cli2", "cli3")
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

	// A peer whose agent takes direct connections (as an ECS task's does:
	// SOCKERLESS_DIRECT_LISTEN, which the launcher passes on from the
	// container's environment): 50 concurrent connections go to its agent
	// directly, none through the relay, and come back intact.
	dport := freePort(t)
	e.mustDocker(t, "run", "-d", "--name", "db2", "--network", "ci-net", "-e", "SOCKERLESS_DIRECT_LISTEN=127.0.0.1:0", "alpine", bin, dport)
	waitUntil(t, 30*time.Second, "db2 listening", func() bool {
		out, _ := e.docker(t, nil, "logs", "db2")
		return strings.Contains(out, "listening")
	})
	waitUntil(t, 2*time.Minute, "db2's direct address reported", func() bool {
		return e.offersDirect(t, "db", "db2")
	})
	ld := freePort(t)
	sessions = e.metric(t, "sockerless_relay_sessions_total")
	out, code = dockerLong(t, e, "run", "--rm", "--network", "ci-net",
		"-e", "SOCKERLESS_PEERS=127.0.0.1:"+ld+"=db2:"+dport, "alpine", bin, "client", "127.0.0.1:"+ld, "50", "8388608")
	if code != 0 || strings.TrimSpace(out) != "ok 50" {
		t.Fatalf("50 x 8 MiB directly: exit %d: %s", code, out)
	}
	// The one relay session is the run's own attach.
	if d := e.metric(t, "sockerless_relay_sessions_total") - sessions; d > 1 {
		t.Fatalf("%d relay sessions for docker run and its 50 direct connections, want only the attach", d)
	}

	// Another network: the alias does not resolve for it.
	l4 := freePort(t)
	out, code = dockerLong(t, e, "run", "--name", "cli3", "--network", "ci-other",
		"-e", "SOCKERLESS_PEERS=127.0.0.1:"+l4+"=database:"+port, "alpine", bin, "client", "127.0.0.1:"+l4, "1", "1000")
	if code != 1 || !strings.HasPrefix(out, "fail:") {
		t.Fatalf("from another network: exit %d: %s", code, out)
	}
}

// BenchmarkServiceNetworking compares a connection to a peer carried
// through the relay (an agent's peer proxy, the relay, the peer's agent,
// then the peer's loopback: "relay"), the same with the proxy taking the
// peer agent's direct offer (no relay: "peer-direct") and a direct
// loopback TCP connection to the same echo server ("direct"): the round trip of a 1-byte echo (p50 and p99 in µs)
// and the throughput of 64 MiB echoed (MB/s). The client side's agent
// proxy runs in the benchmark process with the client container's token,
// as it would in that container's workload.
func BenchmarkServiceNetworking(b *testing.B) {
	e := startSplit(b)
	e.mustDocker(b, "pull", "alpine")
	e.mustDocker(b, "network", "create", "bench-net")
	b.Cleanup(func() {
		e.docker(b, nil, "rm", "-f", "bench-db", "bench-cli")
		e.docker(b, nil, "network", "rm", "bench-net")
	})
	bin := e.dir + "/echo"
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/echo").CombinedOutput(); err != nil {
		b.Fatalf("go build echo: %v\n%s", err, out)
	}
	port := freePort(b)
	e.mustDocker(b, "run", "-d", "--name", "bench-db", "--network", "bench-net", "--network-alias", "database",
		"-e", "SOCKERLESS_DIRECT_LISTEN=127.0.0.1:0", "alpine", bin, port)
	waitUntil(b, 30*time.Second, "db listening", func() bool {
		out, _ := e.docker(b, nil, "logs", "bench-db")
		return strings.Contains(out, "listening")
	})
	cli := e.mustDocker(b, "run", "-d", "--name", "bench-cli", "--network", "bench-net", "alpine", "sleep", "3600")
	waitUntil(b, 2*time.Minute, "db's direct address reported", func() bool {
		return e.offersDirect(b, "bench-cli", "bench-db")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Two proxies as the client container's agent runs it: one that only
	// uses the relay, one that takes the direct offer.
	relayed, peered := "127.0.0.1:"+freePort(b), "127.0.0.1:"+freePort(b)
	for addr, relayOnly := range map[string]bool{relayed: true, peered: false} {
		pp := &agent.PeerProxy{ControlPlaneURL: "http://127.0.0.1:" + e.fport, Container: cli,
			Token: ticket.AgentToken([]byte(splitSecret), cli), Dialer: wsclient.Dialer{}, RelayOnly: relayOnly}
		if err := pp.Listen(ctx, []agent.PeerForward{{Listen: addr, Peer: "database", Port: mustAtoi(b, port)}}); err != nil {
			b.Fatal(err)
		}
	}
	benchEcho(b, map[string]string{"direct": "127.0.0.1:" + port, "relay": relayed, "peer-direct": peered})
}
