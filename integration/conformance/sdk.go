package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// sdk is a scenario of Go SDK calls.
func sdk(name string, fn func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder)) Scenario {
	return Scenario{Name: "sdk/" + name, Family: "sdk", SDK: func(ctx context.Context, t *Target) string {
		var out strings.Builder
		c, err := client.New(client.WithHost(t.Host))
		if err != nil {
			return "client: " + err.Error()
		}
		defer c.Close()
		fn(ctx, c, t, &out)
		return out.String()
	}}
}

// raw sends one HTTP request to the target's socket and writes the status
// and the body.
func raw(ctx context.Context, t *Target, out *strings.Builder, method, path, ctype, body string) {
	sock := strings.TrimPrefix(t.Host, "unix://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, _ := http.NewRequestWithContext(ctx, method, "http://d"+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintf(out, "%s %s: %v\n", method, path, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(out, "%s %s -> %d %s\n", method, path, resp.StatusCode, bytes.TrimSpace(b))
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

func sdkScenarios() []Scenario {
	return []Scenario{
		sdk("create-inspect-keys", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}, Name: "sdk1"})
			if err != nil {
				out.WriteString(errText(err))
				return
			}
			var m map[string]any
			insp, err := c.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
			if err != nil {
				out.WriteString(errText(err))
				return
			}
			b, _ := json.Marshal(insp.Container)
			_ = json.Unmarshal(b, &m)
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintln(out, strings.Join(keys, " "))
		}),
		sdk("list-filter-label-json", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Labels: map[string]string{"x": "1"}}, Name: "sdk1"})
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk2"})
			raw(ctx, t, out, "GET", `/containers/json?all=1&filters=%7B%22label%22%3A%5B%22x%3D1%22%5D%7D`, "", "")
		}),
		sdk("create-text-plain", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/create", "text/plain", `{"Image":"busybox"}`)
		}),
		sdk("create-trailing-json", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/create", "application/json", `{"Image":"busybox"}{}`)
		}),
		sdk("create-bad-json", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/create", "application/json", `{"Image":`)
		}),
		sdk("create-no-image", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/create", "application/json", `{}`)
		}),
		sdk("create-missing-image", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/create", "application/json", `{"Image":"nosuch:1"}`)
		}),
		sdk("inspect-404-body", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "GET", "/containers/nosuch/json", "", "")
		}),
		sdk("exec-inspect", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"sleep", "300"}}, Name: "sdk1"})
			if err != nil {
				out.WriteString(errText(err))
				return
			}
			_, err = c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
			fmt.Fprintln(out, "start", errText(err))
			ex, err := c.ExecCreate(ctx, res.ID, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "exit 3"}})
			fmt.Fprintln(out, "exec create", errText(err))
			if err != nil {
				return
			}
			ei, err := c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
			fmt.Fprintln(out, "before", errText(err), ei.Running, ei.ExitCode)
		}),
		sdk("wait-condition-removed-missing", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/containers/nosuch/wait?condition=removed", "", "")
		}),
		sdk("wait-bad-condition", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk1"})
			raw(ctx, t, out, "POST", "/containers/sdk1/wait?condition=bogus", "", "")
		}),
		sdk("update-501-or-ok", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk1"})
			raw(ctx, t, out, "POST", "/containers/sdk1/update", "application/json", `{"RestartPolicy":{"Name":"always"}}`)
		}),
		sdk("update-autoremove-conflict", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{AutoRemove: true}, Name: "sdk1"})
			raw(ctx, t, out, "POST", "/containers/sdk1/update", "application/json", `{"RestartPolicy":{"Name":"always"}}`)
		}),
		sdk("changes", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk1"})
			raw(ctx, t, out, "GET", "/containers/sdk1/changes", "", "")
		}),
		sdk("archive-head-root", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk1"})
			raw(ctx, t, out, "HEAD", "/containers/sdk1/archive?path=/etc", "", "")
		}),
		sdk("archive-put-not-tar", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			_, _ = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "sdk1"})
			raw(ctx, t, out, "PUT", "/containers/sdk1/archive?path=/tmp", "application/x-tar", "this is not a tar archive at all, just some text.")
		}),
		sdk("volume-create-json", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/volumes/create", "application/json", `{"Name":"sv1","Labels":{"a":"b"}}`)
		}),
		sdk("network-create-json", func(ctx context.Context, c *client.Client, t *Target, out *strings.Builder) {
			raw(ctx, t, out, "POST", "/networks/create", "application/json", `{"Name":"sn1"}`)
		}),
	}
}
