package docker_test

import (
	"strings"
	"testing"
	"time"
)

// TestServiceNetworkingByAlias: on a user network, a container reaches
// another by network alias and by name on a port the service never
// exposed, through the agents (the engine's containers are not on an
// engine network of that name); a container on another network does not
// resolve the alias.
func TestServiceNetworkingByAlias(t *testing.T) {
	s := start(t)
	s.ok(t, "network", "create", "pn-net")
	s.ok(t, "network", "create", "pn-other")
	t.Cleanup(func() {
		s.docker(t, "", "rm", "-f", "pn-svc")
		s.docker(t, "", "network", "rm", "pn-net", "pn-other")
	})
	s.ok(t, "run", "-d", "--name", "pn-svc", "--network", "pn-net", "--network-alias", "web", "busybox",
		"sh", "-c", "mkdir -p /srv && echo served > /srv/x && exec httpd -f -p 8080 -h /srv")
	// The alias appears once the service's agent has reported its port;
	// the client retries as a job waiting for its service does.
	// The bounds are hang guards, generous for a loaded machine: each
	// try is a process start and a 0.2 s sleep.
	get := `i=0; until wget -qO- http://%s:8080/x; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.2; done`
	for _, name := range []string{"web", "pn-svc"} {
		out, errOut, code := s.dockerWithin(t, 8*time.Minute, "", "run", "--rm", "--network", "pn-net", "busybox", "sh", "-c", strings.ReplaceAll(get, "%s", name))
		if code != 0 || out != "served\n" {
			t.Fatalf("by %s: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	// (busybox-static's wget crashes with -T: no timeout option here;
	// the name does not resolve, so it fails at once.)
	out, errOut, code := s.docker(t, "", "run", "--rm", "--network", "pn-other", "busybox", "sh", "-c", "grep -w web /etc/hosts; wget -qO- http://web:8080/x")
	if code == 0 || strings.Contains(out, "served") || !strings.Contains(errOut, "bad address") {
		t.Fatalf("another network reached the alias, or failed for another reason: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
