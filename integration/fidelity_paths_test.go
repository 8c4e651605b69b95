package integration

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/providers"
)

// fidelityBox starts a memory-provider Sockerless with a running alpine
// container "box" holding /foo/bar and /foolink -> /foo.
func fidelityBox(t *testing.T) (*server, *client.Client) {
	t.Helper()
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	if out, code := s.docker(t, "", "run", "-d", "--name", "box", "alpine:3.20", "sleep", "600"); code != 0 {
		t.Fatalf("run: %d %s", code, out)
	}
	if out, code := s.docker(t, "", "exec", "box", "sh", "-c", "mkdir /foo && echo x > /foo/bar && ln -s /foo /foolink"); code != 0 {
		t.Fatalf("exec: %d %s", code, out)
	}
	return s, cli
}

// archiveReq does one archive request on box and returns the status,
// the decoded path stat (if any), the tar entry names (GET 200) or the
// body.
func archiveReq(t *testing.T, s *server, method, pth, body string) (int, providers.PathStat, []string, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://docker/v1.50/containers/box/archive?path="+pth, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPut {
		req.Header.Set("Content-Type", "application/x-tar")
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st providers.PathStat
	if h := resp.Header.Get("X-Docker-Container-Path-Stat"); h != "" {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			t.Fatalf("%s %s: stat header: %v", method, pth, err)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s %s: stat header: %v", method, pth, err)
		}
	}
	if method != http.MethodGet || resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, st, nil, string(b)
	}
	var names []string
	tr := tar.NewReader(resp.Body)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("GET %s: tar: %v", pth, err)
		}
		names = append(names, h.Name)
	}
	return resp.StatusCode, st, names, ""
}

// TestFidelityArchivePaths: docker cp's archive endpoints resolve and
// name paths as Docker 28.2 does (moby daemon/archive_unix.go): the root's
// entries are "/foo/…", a trailing "/" follows a final symlink and
// demands a directory, HEAD agrees with GET, and an upload that is not a
// tar gets Docker's answer.
func TestFidelityArchivePaths(t *testing.T) {
	s, _ := fidelityBox(t)

	t.Run("root", func(t *testing.T) {
		code, _, names, body := archiveReq(t, s, http.MethodGet, "/", "")
		if code != http.StatusOK {
			t.Fatalf("GET /: %d %s", code, body)
		}
		if len(names) <= 3 {
			t.Fatalf("GET /: entries %q, want the whole tree", names)
		}
		// Docker names the content "/foo/…"; its root entry "/" is left
		// out (a tar reader that strips a folder's trailing "/" reads it
		// as an empty name).
		for _, n := range names {
			if n == "" || n == "/" || strings.HasPrefix(n, "//") {
				t.Fatalf("GET /: entry %q, want \"/foo/…\" names only", n)
			}
		}
		for _, want := range []string{"/foo/", "/foo/bar", "/etc/passwd"} {
			if !slices.Contains(names, want) {
				t.Errorf("GET /: no entry %q", want)
			}
		}
	})

	t.Run("trailing slash follows a symlink to a folder", func(t *testing.T) {
		code, st, names, body := archiveReq(t, s, http.MethodGet, "/foolink/", "")
		if code != http.StatusOK {
			t.Fatalf("GET /foolink/: %d %s", code, body)
		}
		if want := []string{"foolink/", "foolink/bar"}; !slices.Equal(names, want) {
			t.Errorf("GET /foolink/: entries %q, want %q", names, want)
		}
		if st.Name != "foolink" || st.Mode&uint32(1<<31) == 0 {
			t.Errorf("GET /foolink/: stat %+v, want the folder named foolink", st)
		}
		code, hst, _, _ := archiveReq(t, s, http.MethodHead, "/foolink/", "")
		if code != http.StatusOK || hst != st {
			t.Errorf("HEAD /foolink/: %d %+v, want 200 %+v as GET", code, hst, st)
		}
	})

	t.Run("no trailing slash is the link itself", func(t *testing.T) {
		code, st, names, body := archiveReq(t, s, http.MethodGet, "/foolink", "")
		if code != http.StatusOK {
			t.Fatalf("GET /foolink: %d %s", code, body)
		}
		if want := []string{"foolink"}; !slices.Equal(names, want) {
			t.Errorf("GET /foolink: entries %q, want %q", names, want)
		}
		if st.LinkTarget != "/foo" {
			t.Errorf("GET /foolink: link target %q, want the resolved path /foo", st.LinkTarget)
		}
	})

	t.Run("a file with a trailing slash is not a directory", func(t *testing.T) {
		// Docker 28.2.2 has the same message ("lstat /etc/passwd/: not a
		// directory") as a 500; Sockerless answers it as the client's
		// error it is (the fidelity acceptance wants a 4xx; listed in
		// docs/conformance-differences.md).
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			code, _, _, body := archiveReq(t, s, m, "/etc/passwd/", "")
			if code != http.StatusBadRequest {
				t.Errorf("%s /etc/passwd/: %d %s, want 400", m, code, body)
			}
			if m == http.MethodGet && !strings.Contains(body, "not a directory") {
				t.Errorf("GET /etc/passwd/: %q, want \"not a directory\"", body)
			}
		}
	})

	t.Run("an upload that is not a tar", func(t *testing.T) {
		// Docker 28.2.2 answers 500 with the tar reader's own message.
		code, _, _, body := archiveReq(t, s, http.MethodPut, "/tmp", strings.Repeat("this is not a tar archive\n", 40))
		if code != http.StatusInternalServerError || strings.TrimSpace(body) != `{"message":"archive/tar: invalid tar header"}` {
			t.Errorf("PUT not-a-tar: %d %q, want Docker's 500 \"archive/tar: invalid tar header\"", code, body)
		}
	})
}

// TestFidelityExecFraming: the exec stream is multiplexed unless the
// start request asks for a TTY, whatever the exec was created with (moby
// api/server/router/container/exec.go), so the Go SDK reads it.
func TestFidelityExecFraming(t *testing.T) {
	s, cli := fidelityBox(t)
	_ = s
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cases := []struct {
		name                string
		createTTY, startTTY bool
	}{
		{"created with a tty, started without", true, false},
		{"created without a tty, started with", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := cli.ExecCreate(ctx, "box", client.ExecCreateOptions{Cmd: []string{"echo", "hi"}, TTY: tc.createTTY, AttachStdout: true, AttachStderr: true})
			if err != nil {
				t.Fatal(err)
			}
			r, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tc.startTTY})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var out strings.Builder
			if tc.startTTY {
				b, err := io.ReadAll(r.Reader)
				if err != nil {
					t.Fatal(err)
				}
				out.Write(b)
			} else if _, err := stdcopy.StdCopy(&out, &out, r.Reader); err != nil {
				t.Fatalf("the stream is not multiplexed: %v", err)
			}
			if got := strings.TrimRight(out.String(), "\r\n"); got != "hi" {
				t.Errorf("output %q, want hi", out.String())
			}
		})
	}
}

// TestFidelityExecUnknownUser: an exec as a user the image does not have
// is refused at create, as Docker 28.2.2 does (400 "unable to find user
// nosuch: no matching entries in passwd file"; the CLI exits 1 with it),
// not run and ended with 126; the group is not checked at create.
func TestFidelityExecUnknownUser(t *testing.T) {
	s, cli := fidelityBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const msg = "unable to find user nosuch: no matching entries in passwd file"
	out, code := s.docker(t, "", "exec", "-u", "nosuch", "box", "true")
	if code != 1 || strings.TrimSpace(out) != "Error response from daemon: "+msg {
		t.Errorf("docker exec -u nosuch: %d %q, want 1 and Docker's message", code, out)
	}
	for _, tc := range []struct {
		user string
		ok   bool
	}{{"nosuch", false}, {"nosuch:nogroup", false}, {"root:nogroup", true}, {"4242", true}} {
		_, err := cli.ExecCreate(ctx, "box", client.ExecCreateOptions{Cmd: []string{"true"}, User: tc.user})
		switch {
		case tc.ok && err != nil:
			t.Errorf("exec create as %q: %v, want it created", tc.user, err)
		case !tc.ok && (!cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), msg)):
			t.Errorf("exec create as %q: %v, want 400 %q", tc.user, err, msg)
		}
	}
}

// TestFidelityRestartClientGone: a restart whose client goes away before
// the answer is still carried through (moby does not cancel it): the
// container runs again and the restart event is logged.
func TestFidelityRestartClientGone(t *testing.T) {
	s, cli := fidelityBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	since := time.Now().Add(-time.Second)
	before, err := cli.ContainerInspect(ctx, "box", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The request is written whole, then the connection is closed: the
	// server reads it and sees its client gone.
	conn, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "POST /v1.50/containers/box/restart?t=5 HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for {
		c, err := cli.ContainerInspect(ctx, "box", client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Container.State.Running && c.Container.State.StartedAt != before.Container.State.StartedAt {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the container did not run again after a restart whose client left: %+v", c.Container.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs := s.docker
	out, code := evs(t, "", "events", "--since", fmt.Sprint(since.Unix()), "--until", fmt.Sprint(time.Now().Add(time.Second).Unix()), "--filter", "container=box", "--format", "{{.Action}}")
	if code != 0 || !strings.Contains(out, "restart") {
		t.Fatalf("events: %d %q, want a restart", code, out)
	}
}

// TestFidelityRestartAutoRemove: restarting an auto-remove container
// restarts it (Docker 28: a manual restart does not auto-remove).
func TestFidelityRestartAutoRemove(t *testing.T) {
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	if out, code := s.docker(t, "", "run", "-d", "--rm", "--name", "rr", "alpine:3.20", "sleep", "600"); code != 0 {
		t.Fatalf("run: %d %s", code, out)
	}
	if out, code := s.docker(t, "", "restart", "-t", "1", "rr"); code != 0 {
		t.Fatalf("restart: %d %s", code, out)
	}
	out, code := s.docker(t, "", "inspect", "-f", "{{.State.Running}} {{.HostConfig.AutoRemove}}", "rr")
	if code != 0 || strings.TrimSpace(out) != "true true" {
		t.Fatalf("inspect after restart: %d %q, want a running auto-remove container", code, out)
	}
}

// TestFidelityHealthStartInterval: during the start period, until a probe
// passes, probes run every StartInterval (moby daemon/health.go), not
// every Interval.
func TestFidelityHealthStartInterval(t *testing.T) {
	_, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	hc := &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Hour, StartPeriod: time.Hour, StartInterval: 100 * time.Millisecond}
	c := healthContainer(ctx, t, cli, "hs", hc)
	waitHealth(ctx, t, cli, c, func(h *container.Health) bool { return h.Status == container.Healthy })
}

// TestFidelityHealthTimeoutOutput: a probe that runs out of time reports
// Docker's message followed by what it wrote.
func TestFidelityHealthTimeoutOutput(t *testing.T) {
	_, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	hc := &container.HealthConfig{Test: []string{"CMD-SHELL", "echo out; sleep 30"}, Interval: 200 * time.Millisecond, Timeout: 500 * time.Millisecond}
	c := healthContainer(ctx, t, cli, "ht", hc)
	// A probe that the machine kept from writing within its time has no
	// output; the next one will.
	want := "Health check exceeded timeout (500ms): out\n"
	waitHealth(ctx, t, cli, c, func(h *container.Health) bool {
		return slices.ContainsFunc(h.Log, func(r *container.HealthcheckResult) bool { return r.ExitCode == -1 && r.Output == want })
	})
}

func healthContainer(ctx context.Context, t *testing.T, cli *client.Client, name string, hc *container.HealthConfig) string {
	t.Helper()
	r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sleep", "600"}, Healthcheck: hc}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// waitHealth polls container id's health until ok holds or ctx ends.
func waitHealth(ctx context.Context, t *testing.T, cli *client.Client, id string, ok func(*container.Health) bool) {
	t.Helper()
	var last *container.Health
	for ctx.Err() == nil {
		c, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if err == nil && c.Container.State.Health != nil {
			last = c.Container.State.Health
			if ok(last) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.Marshal(last)
	t.Fatalf("health never as wanted; last %s", b)
}
