package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/controlapi"
	"github.com/sockerless/sockerless/relay/ticket"
)

// TestECSPeersConnectDirectly: two ECS tasks on one user network, each
// with its own address in the local AWS (as awsvpc gives), connect agent
// to agent without the relay (package relay/direct): functions offers
// the service's agent address once that agent reported it, and three
// connections by alias from the client task open no relay session but
// the exec's own. A task on another network is still refused the alias.
func TestECSPeersConnectDirectly(t *testing.T) {
	e, url, img := startECSFunctions(t)
	r := e.shim(t, url, "SOCKERLESS_TOKEN=gh-token")
	t.Cleanup(func() {
		r.docker(t, "rm", "--force", "svc", "cli", "other")
		r.docker(t, "network", "rm", "direct-net", "direct-other")
	})
	r.mustDocker(t, "network", "create", "direct-net")
	r.mustDocker(t, "network", "create", "direct-other")
	r.mustDocker(t, "run", "-d", "--name", "svc", "--network", "direct-net", "--network-alias", "web", img, "httpd", "-f", "-p", "8080", "-h", "/etc")
	cli := strings.TrimSpace(r.mustDocker(t, "run", "-d", "--name", "cli", "--network", "direct-net", img, "sleep", "600"))

	// Functions offers the service's agent address once it reported it.
	offered := func() bool {
		req, _ := http.NewRequest(http.MethodPost, url+"/_sockerless/agent/"+cli+"/peer?port=8080&name=web", nil)
		req.Header.Set("Authorization", "Bearer "+ticket.AgentToken([]byte("sl-secret"), cli))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var pt controlapi.PeerTicket
		if err := json.NewDecoder(resp.Body).Decode(&pt); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("peer ticket: %s, %v", resp.Status, err)
		}
		return pt.Direct != nil && len(pt.Direct.Addrs) > 0
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !offered() {
		if time.Now().After(deadline) {
			t.Fatal("the service's agent never reported a direct address")
		}
		time.Sleep(200 * time.Millisecond)
	}

	before := relayMetric(t, e.relay, "sockerless_relay_sessions_total")
	get := `for i in 1 2 3; do printf "GET /passwd HTTP/1.0\r\n\r\n" | nc web 8080 | grep -c "^root:"; done`
	deadline = time.Now().Add(time.Minute)
	var out string
	for {
		// The client's agent lists the peer's port within its poll.
		var code int
		out, code = r.docker(t, "exec", "cli", "sh", "-c", get)
		if code == 0 && out == "1\n1\n1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three GETs by alias: exit %d, %q", code, out)
		}
		before = relayMetric(t, e.relay, "sockerless_relay_sessions_total")
		time.Sleep(500 * time.Millisecond)
	}
	// Through the relay the three connections would be three sessions
	// more than the exec's own.
	if d := relayMetric(t, e.relay, "sockerless_relay_sessions_total") - before; d > 1 {
		t.Fatalf("%d relay sessions for an exec and three direct connections, want only the exec's", d)
	}

	out, code := r.docker(t, "run", "--name", "other", "--network", "direct-other", img, "sh", "-c",
		`printf "GET /passwd HTTP/1.0\r\n\r\n" | nc -w 3 web 8080 | grep -c "^root:"`)
	if code == 0 || strings.TrimSpace(out) == "1" {
		t.Fatalf("from another network: exit %d, %q", code, out)
	}
}
