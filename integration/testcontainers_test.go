package integration

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestTestcontainersGoECS: Testcontainers for Go, through the shim and
// the ECS provider on the local AWS, starts a container from the local
// registry's image with a published port (a random host port) and a wait
// strategy (a log line, then the port listening: connectable on the host
// and found listening inside by an exec), and the test connects to
// localhost:<mapped port>. Ryuk is disabled: it needs the engine's socket
// mounted into a container, which no serverless workload has.
func TestTestcontainersGoECS(t *testing.T) {
	r, img := startECSRunner(t)
	t.Setenv("DOCKER_HOST", "unix://"+r.sock)
	t.Setenv("DOCKER_CONFIG", r.cfg)
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// The published port is on this host; Testcontainers would otherwise
	// take the bridge gateway when it finds itself in a container.
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        img,
			Entrypoint:   []string{"sh", "-c", "mkdir -p /srv && echo hello-tc > /srv/index.html && echo serving && exec httpd -f -p 8080 -h /srv"},
			ExposedPorts: []string{"8080/tcp"},
			WaitingFor:   wait.ForAll(wait.ForLog("serving"), wait.ForListeningPort("8080/tcp")).WithDeadline(3 * time.Minute),
		},
		Started: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Terminate(context.Background()) })
	url, err := c.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/index.html", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello-tc\n" {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, b)
	}
	if err := c.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
}
