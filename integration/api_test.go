package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/embedded"
)

// raw does one HTTP request against the server and returns status,
// headers and body.
func raw(t *testing.T, s *server, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://docker"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestPingHeaders(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	for _, m := range []string{"HEAD", "GET", "POST"} {
		code, h, body := raw(t, s, m, "/_ping", "")
		if code != 200 {
			t.Fatalf("%s /_ping: %d", m, code)
		}
		for k, want := range map[string]string{"Api-Version": "1.50", "Ostype": "linux", "Docker-Experimental": "false", "Builder-Version": "1", "Swarm": "inactive"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s /_ping: %s = %q, want %q", m, k, got, want)
			}
		}
		if m != "HEAD" && body != "OK" {
			t.Errorf("%s /_ping body %q", m, body)
		}
	}
}

func TestErrorShapes(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	cases := []struct {
		method, path, body string
		status             int
		message            string // substring of the message; "" for no body
	}{
		{"GET", "/containers/nosuch/json", "", 404, "No such container: nosuch"},
		{"GET", "/v1.50/containers/nosuch/json", "", 404, "No such container: nosuch"},
		{"GET", "/v1.24/containers/nosuch/json", "", 404, "No such container: nosuch"},
		{"GET", "/v1.12/info", "", 400, "too old"},
		{"GET", "/v1.99/info", "", 400, "too new"},
		{"GET", "/nosuchpath", "", 404, "page not found"},
		{"POST", "/containers/create", `{"Image":`, 400, "invalid JSON"},
		{"POST", "/containers/create", `{"Image":"alpine"}`, 404, "No such image: alpine:latest"},
		{"POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["` + strings.Repeat("x", 5<<20) + `"]}`, 413, "larger than"},
		{"POST", "/containers/create?name=x%20y", `{"Image":"alpine"}`, 400, "Invalid container name"},
		{"POST", "/containers/create", `{"Image":"alpine:3.20","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}`, 400, "AutoRemove"},
		{"POST", "/containers/create", `{"Image":"alpine:3.20","HostConfig":{"Binds":["nocolon"]}}`, 400, "invalid volume specification"},
		{"POST", "/containers/create", `{"Image":"alpine:3.20","HostConfig":{"NetworkMode":"nosuchnet"}}`, 404, "network nosuchnet not found"},
		{"GET", "/containers/json?filters=notjson", "", 400, "invalid filter"},
		{"POST", "/exec/nosuch/start", `{}`, 404, "No such exec instance"},
		{"POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["sleep","9"]}`, 201, ""},
		{"POST", "/swarm/init", `{}`, 501, "not supported"},
		{"POST", "/build", ``, 501, "docker build needs a provider that runs image filesystems"},
		{"GET", "/secrets", ``, 501, "not supported"},
		{"GET", "/plugins", ``, 200, "[]"},
		{"POST", "/networks/create", `{"Name":"x","Driver":"overlay"}`, 501, "not supported"},
		{"DELETE", "/networks/bridge", ``, 403, "pre-defined"},
		{"GET", "/volumes/nosuch", ``, 404, "no such volume"},
		{"GET", "/events?since=garbage", ``, 400, "invalid time"},
	}
	raw(t, s, "POST", "/images/create?fromImage=alpine&tag=3.20", "")
	for _, tc := range cases {
		code, h, body := raw(t, s, tc.method, tc.path, tc.body)
		if code != tc.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tc.method, tc.path, code, tc.status, body)
			continue
		}
		if code >= 400 {
			var msg struct{ Message string }
			if err := json.Unmarshal([]byte(body), &msg); err != nil || h.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: body %q is not Docker's error shape", tc.method, tc.path, body)
			}
			if !strings.Contains(msg.Message, tc.message) {
				t.Errorf("%s %s: message %q does not contain %q", tc.method, tc.path, msg.Message, tc.message)
			}
		} else if !strings.Contains(body, tc.message) {
			t.Errorf("%s %s: body %q does not contain %q", tc.method, tc.path, body, tc.message)
		}
	}
	// Bad input changed nothing: exactly the one good create exists.
	_, _, body := raw(t, s, "GET", "/containers/json?all=1", "")
	var list []container.Summary
	json.Unmarshal([]byte(body), &list)
	if len(list) != 1 {
		t.Fatalf("want exactly 1 container after the bad requests, got %d", len(list))
	}
}

func TestNotModified(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	raw(t, s, "POST", "/images/create?fromImage=alpine&tag=3.20", "")
	code, _, body := raw(t, s, "POST", "/containers/create?name=nm", `{"Image":"alpine:3.20","Cmd":["sleep","9"]}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _, _ := raw(t, s, "POST", "/containers/nm/stop", ""); code != 304 {
		t.Fatalf("stop of a created container: %d, want 304", code)
	}
	if code, _, _ := raw(t, s, "POST", "/containers/nm/start", ""); code != 204 {
		t.Fatalf("start: %d", code)
	}
}

// TestWaitHeadersFirst checks the ordering the CLI depends on: the wait's
// 200 headers arrive before start, the body at exit.
func TestWaitHeadersFirst(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true, PollWindow: 200 * time.Millisecond})
	raw(t, s, "POST", "/images/create?fromImage=alpine&tag=3.20", "")
	raw(t, s, "POST", "/containers/create?name=w1", `{"Image":"alpine:3.20","Cmd":["sleep","9"]}`)
	conns := []string{"next-exit", "not-running", "removed"}
	for _, cond := range conns {
		t.Run(cond, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "http://docker/containers/w1/wait?condition="+cond, nil)
			c := s.httpClient()
			resp, err := c.Do(req) // returns at the headers
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("wait: %d", resp.StatusCode)
			}
			for k := range resp.Header {
				// The shim's contract with functions (poll cursors,
				// back-off, watch tickets) never reaches the client.
				if strings.HasPrefix(k, "X-Sockerless-") {
					t.Errorf("the client got the shim's header %s", k)
				}
			}
			if cond == "not-running" {
				var w container.WaitResponse
				json.NewDecoder(resp.Body).Decode(&w)
				return // a created container is not running: answered at once
			}
			time.Sleep(500 * time.Millisecond) // several bounded polls pass
			if cond == "removed" {
				raw(t, s, "DELETE", "/containers/w1?force=1", "")
			} else {
				raw(t, s, "POST", "/containers/w1/start", "")
			}
			var w container.WaitResponse
			if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&w); err != nil {
				t.Fatal(err)
			}
			if w.StatusCode != 0 {
				t.Fatalf("status %d", w.StatusCode)
			}
		})
	}
}

func TestEventsReplay(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true, SyntheticRunTime: 30 * time.Second})
	start := time.Now()
	raw(t, s, "POST", "/images/create?fromImage=alpine&tag=3.20", "")
	raw(t, s, "POST", "/containers/create?name=ev", `{"Image":"alpine:3.20","Cmd":["true"],"Labels":{"app":"x"}}`)
	raw(t, s, "POST", "/containers/ev/start", "")
	time.Sleep(200 * time.Millisecond)
	raw(t, s, "POST", "/containers/ev/kill", "")
	raw(t, s, "DELETE", "/containers/ev", "")
	out, rc := s.docker(t, "", "events", "--since", start.Format(time.RFC3339Nano), "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano),
		"--filter", "type=container", "--filter", "label=app=x", "--format", "{{.Action}}")
	if rc != 0 {
		t.Fatalf("events: %d %s", rc, out)
	}
	if got := strings.Fields(out); strings.Join(got, " ") != "create start kill die destroy" {
		t.Fatalf("events %q", got)
	}
}

// TestGoSDK drives the Docker Go SDK against the shim.
func TestGoSDK(t *testing.T) {
	s := startServer(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	cli, err := client.New(client.WithHost(s.dockerHost))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ping, err := cli.Ping(ctx, client.PingOptions{})
	if err != nil || ping.APIVersion != "1.50" || ping.OSType != "linux" {
		t.Fatalf("ping %+v %v", ping, err)
	}
	pull, err := cli.ImagePull(ctx, "alpine:3.20", client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, pull)
	pull.Close()
	_, err = cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "sdk", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "sdk", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"true"}}})
	if !cerrdefs.IsConflict(err) {
		t.Fatalf("duplicate name: %v, want a conflict", err)
	}
	wait := cli.ContainerWait(ctx, "sdk", client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cli.ContainerStart(ctx, "sdk", client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			t.Fatalf("exit %d", r.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return")
	}
	_, err = cli.ContainerInspect(ctx, "nosuch", client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect nosuch: %v", err)
	}
}
