package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/embedded"
)

// sdkStep is one Go SDK call. want classifies the error the call must
// return (nil: success). A step's own checks on the answer return a
// mismatch, which fails the step whatever want says.
type sdkStep struct {
	name string
	run  func() error
	want func(error) bool
}

type mismatch struct{ msg string }

func (m mismatch) Error() string { return m.msg }

func bad(format string, a ...any) error { return mismatch{fmt.Sprintf(format, a...)} }

// runSDKSteps runs steps in order and stops at the first failure, as
// later steps depend on earlier ones.
func runSDKSteps(t *testing.T, steps []sdkStep) {
	t.Helper()
	for i, st := range steps {
		err := st.run()
		var m mismatch
		switch {
		case errors.As(err, &m):
			t.Fatalf("step %d %s: %v", i, st.name, err)
		case st.want == nil && err != nil:
			t.Fatalf("step %d %s: unexpected error %v", i, st.name, err)
		case st.want != nil && err == nil:
			t.Fatalf("step %d %s: succeeded, want an error", i, st.name)
		case st.want != nil && !st.want(err):
			t.Fatalf("step %d %s: error %v (%T) is not of the wanted kind", i, st.name, err, err)
		}
	}
}

func newSDK(t *testing.T, opts embedded.Options) (*server, *client.Client) {
	t.Helper()
	s := startServer(t, opts)
	cli, err := client.New(client.WithHost(s.dockerHost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return s, cli
}

func sdkPull(ctx context.Context, cli *client.Client, ref string) error {
	r, err := cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	return r.Wait(ctx)
}

// rawStatus does a bodiless POST the SDK would hide the status of.
func rawStatus(t *testing.T, s *server, path string) func() error {
	return func() error {
		code, _, body := raw(t, s, "POST", path, "")
		if code != 304 {
			return bad("POST %s: %d %s, want 304 Not Modified", path, code, body)
		}
		if body != "" {
			return bad("POST %s: 304 with a body %q", path, body)
		}
		return nil
	}
}

func TestSDKSystem(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	start := time.Now()
	var cid string
	runSDKSteps(t, []sdkStep{
		{"ping", func() error {
			p, err := cli.Ping(ctx, client.PingOptions{})
			if err == nil && (p.APIVersion != "1.50" || p.OSType != "linux") {
				return bad("ping %+v", p)
			}
			return err
		}, nil},
		{"version", func() error {
			v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
			if err == nil && (v.APIVersion != "1.50" || v.Os != "linux" || v.MinAPIVersion == "" || v.Version == "") {
				return bad("version %+v", v)
			}
			return err
		}, nil},
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"create", func() error {
			r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "sys1", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"true"}, Labels: map[string]string{"sdk": "sys"}}})
			cid = r.ID
			return err
		}, nil},
		{"start", func() error { _, err := cli.ContainerStart(ctx, "sys1", client.ContainerStartOptions{}); return err }, nil},
		{"wait exit", func() error {
			w := cli.ContainerWait(ctx, "sys1", client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
			select {
			case r := <-w.Result:
				if r.StatusCode != 0 {
					return bad("exit %d", r.StatusCode)
				}
				return nil
			case err := <-w.Error:
				return err
			case <-time.After(10 * time.Second):
				return bad("wait did not return")
			}
		}, nil},
		{"info", func() error {
			i, err := cli.Info(ctx, client.InfoOptions{})
			if err == nil && (i.Info.Containers != 1 || i.Info.ContainersStopped != 1 || i.Info.Images != 1 || i.Info.OSType != "linux" || i.Info.ID == "") {
				return bad("info: containers %d stopped %d images %d os %q id %q", i.Info.Containers, i.Info.ContainersStopped, i.Info.Images, i.Info.OSType, i.Info.ID)
			}
			return err
		}, nil},
		{"disk usage", func() error {
			du, err := cli.DiskUsage(ctx, client.DiskUsageOptions{Containers: true, Images: true, Volumes: true})
			if err == nil && (du.Containers.TotalCount != 1 || len(du.Containers.Items) != 1 || du.Containers.Items[0].ID != cid || du.Images.TotalCount != 1 || du.Volumes.TotalCount != 0) {
				return bad("df %+v", du)
			}
			return err
		}, nil},
		{"remove", func() error { _, err := cli.ContainerRemove(ctx, "sys1", client.ContainerRemoveOptions{}); return err }, nil},
		{"events since/until", func() error {
			until := time.Now().Add(500 * time.Millisecond)
			ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			ev := cli.Events(ectx, client.EventsListOptions{
				Since:   fmt.Sprintf("%d.%09d", start.Unix(), start.Nanosecond()),
				Until:   fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
				Filters: make(client.Filters).Add("type", "container").Add("label", "sdk=sys"),
			})
			var got []string
			for {
				select {
				case m := <-ev.Messages:
					if m.Type != events.ContainerEventType || m.Actor.ID != cid || m.Actor.Attributes["name"] != "sys1" || m.TimeNano == 0 {
						return bad("event %+v", m)
					}
					got = append(got, string(m.Action))
				case err := <-ev.Err:
					if !errors.Is(err, io.EOF) {
						return err
					}
					if strings.Join(got, " ") != "create start die destroy" {
						return bad("events %q, want create start die destroy", got)
					}
					if time.Now().Before(until) {
						return bad("the stream ended before until")
					}
					return nil
				}
			}
		}, nil},
		{"events filter only images", func() error {
			until := time.Now()
			ev := cli.Events(ctx, client.EventsListOptions{
				Since:   fmt.Sprintf("%d", start.Unix()-1),
				Until:   fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
				Filters: make(client.Filters).Add("type", "image"),
			})
			var got []string
			for {
				select {
				case m := <-ev.Messages:
					got = append(got, string(m.Type)+":"+string(m.Action))
				case err := <-ev.Err:
					if !errors.Is(err, io.EOF) {
						return err
					}
					if strings.Join(got, " ") != "image:pull" {
						return bad("image events %q, want [image:pull]", got)
					}
					return nil
				}
			}
		}, nil},
		{"events bad filter", func() error {
			ev := cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).Add("nosuchfilter", "x")})
			return <-ev.Err
		}, cerrdefs.IsInvalidArgument},
	})
}

func TestSDKImages(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	img := writeImageTar(t, tarPath, "example.com/team/greeter:1.0")
	cfgName, _ := img.ConfigName()
	var alpineID string
	refs := func(f client.Filters) ([]string, error) {
		l, err := cli.ImageList(ctx, client.ImageListOptions{Filters: f})
		var out []string
		for _, i := range l.Items {
			out = append(out, i.RepoTags...)
		}
		slices.Sort(out)
		return out, err
	}
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"pull again", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"inspect", func() error {
			i, err := cli.ImageInspect(ctx, "alpine:3.20")
			alpineID = i.ID
			if err == nil && (!strings.HasPrefix(i.ID, "sha256:") || !slices.Equal(i.RepoTags, []string{"alpine:3.20"}) || i.Os != "linux") {
				return bad("inspect %+v", i.InspectResponse)
			}
			return err
		}, nil},
		{"inspect by id", func() error {
			i, err := cli.ImageInspect(ctx, alpineID)
			if err == nil && i.ID != alpineID {
				return bad("id %q", i.ID)
			}
			return err
		}, nil},
		{"inspect missing", func() error { _, err := cli.ImageInspect(ctx, "nosuch:1"); return err }, cerrdefs.IsNotFound},
		{"load", func() error {
			f, err := os.Open(tarPath)
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := cli.ImageLoad(ctx, f)
			if err != nil {
				return err
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			if !strings.Contains(string(b), `"stream":"Loaded image: example.com/team/greeter:1.0\n"`) {
				return bad("load answered %s", b)
			}
			return nil
		}, nil},
		{"load garbage", func() error {
			r, err := cli.ImageLoad(ctx, strings.NewReader("not a tar"))
			if err != nil {
				return err
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			if !strings.Contains(string(b), `"error`) {
				return bad("loading garbage answered %s", b)
			}
			return errors.New("refused in the stream")
		}, func(error) bool { return true }},
		{"inspect loaded", func() error {
			i, err := cli.ImageInspect(ctx, "example.com/team/greeter:1.0")
			if err == nil && (i.ID != cfgName.String() || i.Config == nil || !slices.Equal(i.Config.Entrypoint, []string{"/bin/greet"})) {
				return bad("inspect %+v", i.InspectResponse)
			}
			return err
		}, nil},
		{"history", func() error {
			h, err := cli.ImageHistory(ctx, "example.com/team/greeter:1.0")
			if err == nil && (len(h.Items) == 0 || h.Items[0].ID != cfgName.String()) {
				return bad("history %+v", h.Items)
			}
			return err
		}, nil},
		{"history missing", func() error { _, err := cli.ImageHistory(ctx, "nosuch:1"); return err }, cerrdefs.IsNotFound},
		{"tag", func() error {
			_, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: "alpine:3.20", Target: "myalpine:v1"})
			return err
		}, nil},
		{"tag missing source", func() error {
			_, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: "nosuch:1", Target: "x:1"})
			return err
		}, cerrdefs.IsNotFound},
		{"list", func() error {
			got, err := refs(nil)
			if err == nil && !slices.Equal(got, []string{"alpine:3.20", "example.com/team/greeter:1.0", "myalpine:v1"}) {
				return bad("list %q", got)
			}
			return err
		}, nil},
		{"list reference filter", func() error {
			got, err := refs(make(client.Filters).Add("reference", "myalpine"))
			if err == nil && !slices.Equal(got, []string{"myalpine:v1"}) {
				return bad("list %q", got)
			}
			return err
		}, nil},
		{"list label filter", func() error {
			got, err := refs(make(client.Filters).Add("label", "org.example=yes"))
			if err == nil && !slices.Equal(got, []string{"example.com/team/greeter:1.0"}) {
				return bad("list %q", got)
			}
			return err
		}, nil},
		{"list dangling filter", func() error {
			got, err := refs(make(client.Filters).Add("dangling", "true"))
			if err == nil && len(got) != 0 {
				return bad("list %q", got)
			}
			return err
		}, nil},
		{"list bad filter", func() error { _, err := refs(make(client.Filters).Add("nosuch", "x")); return err }, cerrdefs.IsInvalidArgument},
		{"remove tag", func() error {
			r, err := cli.ImageRemove(ctx, "myalpine:v1", client.ImageRemoveOptions{})
			if err == nil && (len(r.Items) != 1 || r.Items[0].Untagged != "myalpine:v1") {
				return bad("remove %+v", r.Items)
			}
			return err
		}, nil},
		{"remove missing", func() error { _, err := cli.ImageRemove(ctx, "nosuch:1", client.ImageRemoveOptions{}); return err }, cerrdefs.IsNotFound},
		{"create user", func() error {
			_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "user", Config: &container.Config{Image: "example.com/team/greeter:1.0"}})
			return err
		}, nil},
		{"remove in use by id", func() error {
			_, err := cli.ImageRemove(ctx, cfgName.String(), client.ImageRemoveOptions{})
			return err
		}, cerrdefs.IsConflict},
		{"prune unused", func() error {
			r, err := cli.ImagePrune(ctx, client.ImagePruneOptions{Filters: make(client.Filters).Add("dangling", "false")})
			if err != nil {
				return err
			}
			var untagged []string
			for _, d := range r.Report.ImagesDeleted {
				if d.Untagged != "" {
					untagged = append(untagged, d.Untagged)
				}
			}
			if !slices.Equal(untagged, []string{"alpine:3.20"}) {
				return bad("prune %+v, want only alpine:3.20 untagged", r.Report.ImagesDeleted)
			}
			return nil
		}, nil},
		{"list after prune", func() error {
			got, err := refs(nil)
			if err == nil && !slices.Equal(got, []string{"example.com/team/greeter:1.0"}) {
				return bad("list %q", got)
			}
			return err
		}, nil},
	})
}

func TestSDKContainers(t *testing.T) {
	s, cli := newSDK(t, embedded.Options{Synthetic: true, SyntheticRunTime: 10 * time.Minute})
	ctx := context.Background()
	create := func(name string, labels map[string]string) func() error {
		return func() error {
			r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sleep", "600"}, Labels: labels}})
			if err == nil && (len(r.ID) != 64) {
				return bad("create %+v", r)
			}
			return err
		}
	}
	state := func(name string, status container.ContainerState, exit int) func() error {
		return func() error {
			i, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			st := i.Container.State
			if st.Status != status || st.ExitCode != exit || st.Running != (status == "running" || status == "paused") || st.Paused != (status == "paused") {
				return bad("%s state %+v, want %s exit %d", name, *st, status, exit)
			}
			return nil
		}
	}
	names := func(o client.ContainerListOptions, want ...string) func() error {
		return func() error {
			l, err := cli.ContainerList(ctx, o)
			var got []string
			for _, c := range l.Items {
				got = append(got, strings.Join(c.Names, ","))
			}
			slices.Sort(got)
			if err == nil && !slices.Equal(got, want) {
				return bad("list %q, want %q", got, want)
			}
			return err
		}
	}
	call := func(f func() error) func() error { return f }
	waitFor := func(name string, cond container.WaitCondition, then func() error, want int64) func() error {
		return func() error {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			w := cli.ContainerWait(wctx, name, client.ContainerWaitOptions{Condition: cond})
			if then != nil {
				time.Sleep(100 * time.Millisecond)
				if err := then(); err != nil {
					return err
				}
			}
			select {
			case r := <-w.Result:
				if r.StatusCode != want {
					return bad("wait %s: status %d, want %d", cond, r.StatusCode, want)
				}
				return nil
			case err := <-w.Error:
				return err
			}
		}
	}
	logs := func(name string, o client.ContainerLogsOptions, want string) func() error {
		return func() error {
			r, err := cli.ContainerLogs(ctx, name, o)
			if err != nil {
				return err
			}
			defer r.Close()
			var out, errOut bytes.Buffer
			if _, err := stdcopy.StdCopy(&out, &errOut, r); err != nil {
				return bad("logs are not a multiplexed stream: %v", err)
			}
			if !strings.Contains(out.String(), want) {
				return bad("logs stdout %q, want %q", out.String(), want)
			}
			return nil
		}
	}
	var pruneID string
	all := client.ContainerListOptions{All: true}
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"create c1", create("c1", map[string]string{"role": "a"}), nil},
		{"create c1 again", create("c1", nil), cerrdefs.IsConflict},
		{"create bad name", create("bad name", nil), cerrdefs.IsInvalidArgument},
		{"create missing image", func() error {
			_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "nosuch:1"}})
			return err
		}, cerrdefs.IsNotFound},
		{"create c2", create("c2", map[string]string{"role": "b"}), nil},
		{"inspect c1", func() error {
			i, err := cli.ContainerInspect(ctx, "c1", client.ContainerInspectOptions{})
			if err == nil && (i.Container.Name != "/c1" || i.Container.Config.Labels["role"] != "a" || i.Container.Config.Image != "alpine:3.20" || i.Container.HostConfig == nil) {
				return bad("inspect %+v", i.Container)
			}
			return err
		}, nil},
		{"inspect c1 created", state("c1", "created", 0), nil},
		{"inspect missing", func() error {
			_, err := cli.ContainerInspect(ctx, "nosuch", client.ContainerInspectOptions{})
			return err
		}, cerrdefs.IsNotFound},
		{"list running: none", names(client.ContainerListOptions{}), nil},
		{"list all", names(all, "/c1", "/c2"), nil},
		{"list label", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "role=a")}, "/c1"), nil},
		{"list label key", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "role")}, "/c1", "/c2"), nil},
		{"list name", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("name", "c2")}, "/c2"), nil},
		{"list status created", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("status", "created")}, "/c1", "/c2"), nil},
		{"list bad status", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("status", "sleepy")}), cerrdefs.IsInvalidArgument},
		{"list limit", func() error {
			l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Limit: 1})
			if err == nil && len(l.Items) != 1 {
				return bad("limit 1 gave %d", len(l.Items))
			}
			return err
		}, nil},
		{"resize created", func() error {
			_, err := cli.ContainerResize(ctx, "c1", client.ContainerResizeOptions{Height: 40, Width: 100})
			return err
		}, cerrdefs.IsConflict},
		{"kill created", func() error { _, err := cli.ContainerKill(ctx, "c1", client.ContainerKillOptions{}); return err }, cerrdefs.IsConflict},
		{"start c1", func() error { _, err := cli.ContainerStart(ctx, "c1", client.ContainerStartOptions{}); return err }, nil},
		{"c1 running", state("c1", "running", 0), nil},
		{"start started: 304", rawStatus(t, s, "/containers/c1/start"), nil},
		{"start missing", func() error { _, err := cli.ContainerStart(ctx, "nosuch", client.ContainerStartOptions{}); return err }, cerrdefs.IsNotFound},
		{"list running", names(client.ContainerListOptions{}, "/c1"), nil},
		{"list status running", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("status", "running")}, "/c1"), nil},
		{"resize", func() error {
			_, err := cli.ContainerResize(ctx, "c1", client.ContainerResizeOptions{Height: 40, Width: 100})
			return err
		}, nil},
		{"resize missing", func() error {
			_, err := cli.ContainerResize(ctx, "nosuch", client.ContainerResizeOptions{Height: 40, Width: 100})
			return err
		}, cerrdefs.IsNotFound},
		{"logs", logs("c1", client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true}, "sockerless synthetic mode"), nil},
		{"logs no stream", logs("c1", client.ContainerLogsOptions{}, ""), cerrdefs.IsInvalidArgument},
		{"logs missing", logs("nosuch", client.ContainerLogsOptions{ShowStdout: true}, ""), cerrdefs.IsNotFound},
		{"pause", func() error { _, err := cli.ContainerPause(ctx, "c1", client.ContainerPauseOptions{}); return err }, nil},
		{"c1 paused", state("c1", "paused", 0), nil},
		{"list status paused", names(client.ContainerListOptions{Filters: make(client.Filters).Add("status", "paused")}, "/c1"), nil},
		{"pause paused", func() error { _, err := cli.ContainerPause(ctx, "c1", client.ContainerPauseOptions{}); return err }, cerrdefs.IsConflict},
		{"remove paused", func() error { _, err := cli.ContainerRemove(ctx, "c1", client.ContainerRemoveOptions{}); return err }, cerrdefs.IsConflict},
		{"unpause", func() error { _, err := cli.ContainerUnpause(ctx, "c1", client.ContainerUnpauseOptions{}); return err }, nil},
		{"c1 running again", state("c1", "running", 0), nil},
		{"unpause running", func() error { _, err := cli.ContainerUnpause(ctx, "c1", client.ContainerUnpauseOptions{}); return err }, cerrdefs.IsConflict},
		{"pause created", func() error { _, err := cli.ContainerPause(ctx, "c2", client.ContainerPauseOptions{}); return err }, cerrdefs.IsConflict},
		{"rename to taken", func() error {
			_, err := cli.ContainerRename(ctx, "c1", client.ContainerRenameOptions{NewName: "c2"})
			return err
		}, cerrdefs.IsConflict},
		{"rename missing", func() error {
			_, err := cli.ContainerRename(ctx, "nosuch", client.ContainerRenameOptions{NewName: "xy"})
			return err
		}, cerrdefs.IsNotFound},
		{"rename", func() error {
			_, err := cli.ContainerRename(ctx, "c1", client.ContainerRenameOptions{NewName: "c1r"})
			return err
		}, nil},
		{"old name gone", func() error {
			// "c1" is also a hex id prefix: it may still resolve, by
			// prefix, to another container, never to the renamed one.
			r, err := cli.ContainerInspect(ctx, "c1", client.ContainerInspectOptions{})
			if err == nil && r.Container.Name != "/c1" && r.Container.Name != "/c1r" {
				return cerrdefs.ErrNotFound
			}
			return err
		}, cerrdefs.IsNotFound},
		{"list renamed", names(all, "/c1r", "/c2"), nil},
		{"kill bad signal", func() error {
			_, err := cli.ContainerKill(ctx, "c1r", client.ContainerKillOptions{Signal: "NOSUCHSIG"})
			return err
		}, cerrdefs.IsInvalidArgument},
		{"wait next-exit, kill", waitFor("c1r", container.WaitConditionNextExit, func() error {
			_, err := cli.ContainerKill(ctx, "c1r", client.ContainerKillOptions{Signal: "KILL"})
			return err
		}, 137), nil},
		{"c1r killed", state("c1r", "exited", 137), nil},
		{"wait not-running on exited", waitFor("c1r", container.WaitConditionNotRunning, nil, 137), nil},
		{"wait bad condition", waitFor("c1r", "sometime", nil, 0), cerrdefs.IsInvalidArgument},
		{"wait missing", waitFor("nosuch", container.WaitConditionNotRunning, nil, 0), cerrdefs.IsNotFound},
		{"kill exited", func() error { _, err := cli.ContainerKill(ctx, "c1r", client.ContainerKillOptions{}); return err }, cerrdefs.IsConflict},
		{"stop exited: 304", rawStatus(t, s, "/containers/c1r/stop"), nil},
		{"restart", func() error {
			to := 1
			_, err := cli.ContainerRestart(ctx, "c1r", client.ContainerRestartOptions{Timeout: &to})
			return err
		}, nil},
		{"restarted running", state("c1r", "running", 0), nil},
		{"restart missing", func() error {
			_, err := cli.ContainerRestart(ctx, "nosuch", client.ContainerRestartOptions{})
			return err
		}, cerrdefs.IsNotFound},
		{"stop", func() error {
			to := 1
			_, err := cli.ContainerStop(ctx, "c1r", client.ContainerStopOptions{Timeout: &to})
			return err
		}, nil},
		{"stopped", func() error {
			i, err := cli.ContainerInspect(ctx, "c1r", client.ContainerInspectOptions{})
			if err == nil && (i.Container.State.Running || i.Container.State.Status != "exited" || i.Container.State.FinishedAt == "") {
				return bad("after stop %+v", *i.Container.State)
			}
			return err
		}, nil},
		{"stop missing", func() error { _, err := cli.ContainerStop(ctx, "nosuch", client.ContainerStopOptions{}); return err }, cerrdefs.IsNotFound},
		{"list status exited", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("status", "exited")}, "/c1r"), nil},
		{"list exited=137", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("exited", "137")}), nil},
		{"start c2", func() error { _, err := cli.ContainerStart(ctx, "c2", client.ContainerStartOptions{}); return err }, nil},
		{"remove running", func() error { _, err := cli.ContainerRemove(ctx, "c2", client.ContainerRemoveOptions{}); return err }, cerrdefs.IsConflict},
		{"wait removed, force remove", waitFor("c2", container.WaitConditionRemoved, call(func() error {
			_, err := cli.ContainerRemove(ctx, "c2", client.ContainerRemoveOptions{Force: true})
			return err
		}), 137), nil},
		{"c2 gone", func() error { _, err := cli.ContainerInspect(ctx, "c2", client.ContainerInspectOptions{}); return err }, cerrdefs.IsNotFound},
		{"remove missing", func() error {
			_, err := cli.ContainerRemove(ctx, "nosuch", client.ContainerRemoveOptions{})
			return err
		}, cerrdefs.IsNotFound},
		{"create p1", create("p1", map[string]string{"prune": "yes"}), nil},
		{"create p2", create("p2", nil), nil},
		{"prune by label", func() error {
			i, _ := cli.ContainerInspect(ctx, "p1", client.ContainerInspectOptions{})
			pruneID = i.Container.ID
			r, err := cli.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: make(client.Filters).Add("label", "prune=yes")})
			if err == nil && !slices.Equal(r.Report.ContainersDeleted, []string{pruneID}) {
				return bad("prune deleted %q, want [%s]", r.Report.ContainersDeleted, pruneID)
			}
			return err
		}, nil},
		{"prune all stopped", func() error {
			r, err := cli.ContainerPrune(ctx, client.ContainerPruneOptions{})
			if err == nil && len(r.Report.ContainersDeleted) != 2 {
				return bad("prune deleted %q, want c1r and p2", r.Report.ContainersDeleted)
			}
			return err
		}, nil},
		{"list empty", names(all), nil},
		{"prune bad filter", func() error {
			_, err := cli.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: make(client.Filters).Add("nosuch", "x")})
			return err
		}, cerrdefs.IsInvalidArgument},
	})
}

func TestSDKExec(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true, SyntheticRunTime: 10 * time.Minute})
	ctx := context.Background()
	var execID, cid string
	execCreate := func(ctr string, cmd ...string) func() error {
		return func() error {
			r, err := cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
			if err == nil {
				execID = r.ID
			}
			return err
		}
	}
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"create", func() error {
			r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "ex", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sleep", "600"}}})
			cid = r.ID
			return err
		}, nil},
		{"exec in created", execCreate("ex", "true"), cerrdefs.IsConflict},
		{"exec in missing", execCreate("nosuch", "true"), cerrdefs.IsNotFound},
		{"start", func() error { _, err := cli.ContainerStart(ctx, "ex", client.ContainerStartOptions{}); return err }, nil},
		{"exec empty Cmd", execCreate("ex"), cerrdefs.IsInvalidArgument},
		{"exec create", execCreate("ex", "echo", "hi"), nil},
		{"inspect before start", func() error {
			i, err := cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
			if err == nil && (i.ID != execID || i.ContainerID != cid || i.Running) {
				return bad("inspect %+v", i)
			}
			return err
		}, nil},
		{"attach", func() error {
			r, err := cli.ExecAttach(ctx, execID, client.ExecAttachOptions{})
			if err != nil {
				return err
			}
			defer r.Close()
			if _, err := stdcopy.StdCopy(io.Discard, io.Discard, r.Reader); err != nil {
				return bad("exec stream: %v", err)
			}
			return nil
		}, nil},
		{"inspect after", func() error {
			i, err := cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
			if err == nil && (i.Running || i.ExitCode != 0) {
				return bad("inspect %+v", i)
			}
			return err
		}, nil},
		{"start again", func() error { _, err := cli.ExecStart(ctx, execID, client.ExecStartOptions{Detach: true}); return err }, cerrdefs.IsConflict},
		{"exec detached", execCreate("ex", "true"), nil},
		{"start detached", func() error { _, err := cli.ExecStart(ctx, execID, client.ExecStartOptions{Detach: true}); return err }, nil},
		{"detached finishes", func() error {
			for range 100 {
				i, err := cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
				if err != nil || !i.Running {
					if err == nil && i.ExitCode != 0 {
						return bad("exit %d", i.ExitCode)
					}
					return err
				}
				time.Sleep(50 * time.Millisecond)
			}
			return bad("the detached exec never finished")
		}, nil},
		{"inspect missing", func() error { _, err := cli.ExecInspect(ctx, "nosuch", client.ExecInspectOptions{}); return err }, cerrdefs.IsNotFound},
		{"start missing", func() error {
			_, err := cli.ExecStart(ctx, "nosuch", client.ExecStartOptions{Detach: true})
			return err
		}, cerrdefs.IsNotFound},
		{"resize missing", func() error {
			_, err := cli.ExecResize(ctx, "nosuch", client.ExecResizeOptions{Height: 1, Width: 1})
			return err
		}, cerrdefs.IsNotFound},
		{"exec created, container stops", execCreate("ex", "true"), nil},
		{"kill", func() error { _, err := cli.ContainerKill(ctx, "ex", client.ContainerKillOptions{}); return err }, nil},
		{"exec in stopped", execCreate("ex", "true"), cerrdefs.IsConflict},
		{"start exec of stopped", func() error { _, err := cli.ExecStart(ctx, execID, client.ExecStartOptions{Detach: true}); return err }, cerrdefs.IsConflict},
	})
}

func TestSDKNetworks(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true, SyntheticRunTime: 10 * time.Minute})
	ctx := context.Background()
	var netID, cid string
	netNames := func(f client.Filters, want ...string) func() error {
		return func() error {
			l, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
			var got []string
			for _, n := range l.Items {
				got = append(got, n.Name)
			}
			slices.Sort(got)
			if err == nil && !slices.Equal(got, want) {
				return bad("networks %q, want %q", got, want)
			}
			return err
		}
	}
	connected := func(want bool) func() error {
		return func() error {
			c, err := cli.ContainerInspect(ctx, "nc", client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			ep, ok := c.Container.NetworkSettings.Networks["n1"]
			if ok != want {
				return bad("container networks %v, want n1 connected=%v", c.Container.NetworkSettings.Networks, want)
			}
			if want && (ep.NetworkID != netID || !slices.Contains(ep.Aliases, "web") || ep.IPAddress.String() == "") {
				return bad("endpoint %+v", ep)
			}
			n, err := cli.NetworkInspect(ctx, "n1", client.NetworkInspectOptions{})
			if err != nil {
				return err
			}
			if _, ok := n.Network.Containers[cid]; ok != want {
				return bad("network containers %v, want %s connected=%v", n.Network.Containers, cid, want)
			}
			return nil
		}
	}
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"defaults", netNames(nil, "bridge", "host", "none"), nil},
		{"create", func() error {
			r, err := cli.NetworkCreate(ctx, "n1", client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"team": "a"}})
			netID = r.ID
			if err == nil && len(r.ID) != 64 {
				return bad("create %+v", r)
			}
			return err
		}, nil},
		{"create again", func() error { _, err := cli.NetworkCreate(ctx, "n1", client.NetworkCreateOptions{}); return err }, cerrdefs.IsConflict},
		{"inspect by name", func() error {
			n, err := cli.NetworkInspect(ctx, "n1", client.NetworkInspectOptions{})
			if err == nil && (n.Network.ID != netID || n.Network.Name != "n1" || n.Network.Driver != "bridge" || n.Network.Scope != "local" || n.Network.Labels["team"] != "a") {
				return bad("inspect %+v", n.Network)
			}
			return err
		}, nil},
		{"inspect by id prefix", func() error {
			n, err := cli.NetworkInspect(ctx, netID[:12], client.NetworkInspectOptions{})
			if err == nil && n.Network.ID != netID {
				return bad("inspect %+v", n.Network)
			}
			return err
		}, nil},
		{"inspect missing", func() error { _, err := cli.NetworkInspect(ctx, "nosuch", client.NetworkInspectOptions{}); return err }, cerrdefs.IsNotFound},
		{"list", netNames(nil, "bridge", "host", "n1", "none"), nil},
		{"list name", netNames(make(client.Filters).Add("name", "n1"), "n1"), nil},
		{"list label", netNames(make(client.Filters).Add("label", "team=a"), "n1"), nil},
		{"list driver", netNames(make(client.Filters).Add("driver", "bridge"), "bridge", "n1"), nil},
		{"list custom", netNames(make(client.Filters).Add("type", "custom"), "n1"), nil},
		{"list bad filter", netNames(make(client.Filters).Add("nosuch", "x")), cerrdefs.IsInvalidArgument},
		{"create container", func() error {
			r, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "nc", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sleep", "600"}}})
			cid = r.ID
			return err
		}, nil},
		{"connect", func() error {
			_, err := cli.NetworkConnect(ctx, "n1", client.NetworkConnectOptions{Container: "nc", EndpointConfig: &network.EndpointSettings{Aliases: []string{"web"}}})
			return err
		}, nil},
		{"start", func() error { _, err := cli.ContainerStart(ctx, "nc", client.ContainerStartOptions{}); return err }, nil},
		{"connected", connected(true), nil},
		{"connect missing network", func() error {
			_, err := cli.NetworkConnect(ctx, "nosuch", client.NetworkConnectOptions{Container: "nc"})
			return err
		}, cerrdefs.IsNotFound},
		{"connect missing container", func() error {
			_, err := cli.NetworkConnect(ctx, "n1", client.NetworkConnectOptions{Container: "nosuch"})
			return err
		}, cerrdefs.IsNotFound},
		{"remove in use", func() error { _, err := cli.NetworkRemove(ctx, "n1", client.NetworkRemoveOptions{}); return err }, cerrdefs.IsPermissionDenied},
		{"remove predefined", func() error { _, err := cli.NetworkRemove(ctx, "bridge", client.NetworkRemoveOptions{}); return err }, cerrdefs.IsPermissionDenied},
		{"disconnect", func() error {
			_, err := cli.NetworkDisconnect(ctx, "n1", client.NetworkDisconnectOptions{Container: "nc"})
			return err
		}, nil},
		{"disconnected", connected(false), nil},
		{"disconnect missing container", func() error {
			_, err := cli.NetworkDisconnect(ctx, "n1", client.NetworkDisconnectOptions{Container: "nosuch"})
			return err
		}, cerrdefs.IsNotFound},
		{"remove", func() error { _, err := cli.NetworkRemove(ctx, netID, client.NetworkRemoveOptions{}); return err }, nil},
		{"remove again", func() error { _, err := cli.NetworkRemove(ctx, "n1", client.NetworkRemoveOptions{}); return err }, cerrdefs.IsNotFound},
		{"create n2", func() error { _, err := cli.NetworkCreate(ctx, "n2", client.NetworkCreateOptions{}); return err }, nil},
		{"create n3", func() error {
			_, err := cli.NetworkCreate(ctx, "n3", client.NetworkCreateOptions{Labels: map[string]string{"keep": "1"}})
			return err
		}, nil},
		{"prune", func() error {
			r, err := cli.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: make(client.Filters).Add("label!", "keep")})
			if err == nil && !slices.Equal(r.Report.NetworksDeleted, []string{"n2"}) {
				return bad("pruned %q, want [n2]", r.Report.NetworksDeleted)
			}
			return err
		}, nil},
		{"after prune", netNames(nil, "bridge", "host", "n3", "none"), nil},
	})
}

func TestSDKVolumes(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	volNames := func(f client.Filters, want ...string) func() error {
		return func() error {
			l, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
			var got []string
			for _, v := range l.Items {
				got = append(got, v.Name)
			}
			slices.Sort(got)
			if err == nil && !slices.Equal(got, want) {
				return bad("volumes %q, want %q", got, want)
			}
			return err
		}
	}
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"create", func() error {
			r, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "v1", Labels: map[string]string{"team": "a"}})
			if err == nil && (r.Volume.Name != "v1" || r.Volume.Driver != "local" || r.Volume.Labels["team"] != "a" || r.Volume.Mountpoint == "" || r.Volume.Scope != "local") {
				return bad("create %+v", r.Volume)
			}
			return err
		}, nil},
		{"create again is idempotent", func() error {
			r, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "v1", Labels: map[string]string{"team": "a"}})
			if err == nil && r.Volume.Name != "v1" {
				return bad("create %+v", r.Volume)
			}
			return err
		}, nil},
		{"create bad driver", func() error {
			_, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "vx", Driver: "nosuchdriver"})
			return err
		}, func(err error) bool { return err != nil }},
		{"inspect", func() error {
			v, err := cli.VolumeInspect(ctx, "v1", client.VolumeInspectOptions{})
			if err == nil && (v.Volume.Name != "v1" || v.Volume.Labels["team"] != "a" || v.Volume.CreatedAt == "") {
				return bad("inspect %+v", v.Volume)
			}
			return err
		}, nil},
		{"inspect missing", func() error { _, err := cli.VolumeInspect(ctx, "nosuch", client.VolumeInspectOptions{}); return err }, cerrdefs.IsNotFound},
		{"list", volNames(nil, "v1"), nil},
		{"list name", volNames(make(client.Filters).Add("name", "v1"), "v1"), nil},
		{"list label", volNames(make(client.Filters).Add("label", "team=a"), "v1"), nil},
		{"list dangling", volNames(make(client.Filters).Add("dangling", "true"), "v1"), nil},
		{"list bad filter", volNames(make(client.Filters).Add("nosuch", "x")), cerrdefs.IsInvalidArgument},
		{"use v1", func() error {
			_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "vc", Config: &container.Config{Image: "alpine:3.20"}, HostConfig: &container.HostConfig{Binds: []string{"v1:/data"}}})
			return err
		}, nil},
		{"list in use", volNames(make(client.Filters).Add("dangling", "false"), "v1"), nil},
		{"remove in use", func() error { _, err := cli.VolumeRemove(ctx, "v1", client.VolumeRemoveOptions{}); return err }, cerrdefs.IsConflict},
		{"create v2", func() error { _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "v2"}); return err }, nil},
		{"prune keeps named volumes", func() error {
			r, err := cli.VolumePrune(ctx, client.VolumePruneOptions{})
			if err == nil && len(r.Report.VolumesDeleted) != 0 {
				return bad("pruned %q, want none (named volumes need all=true)", r.Report.VolumesDeleted)
			}
			return err
		}, nil},
		{"prune all unused", func() error {
			r, err := cli.VolumePrune(ctx, client.VolumePruneOptions{All: true})
			if err == nil && !slices.Equal(r.Report.VolumesDeleted, []string{"v2"}) {
				return bad("pruned %q, want [v2]", r.Report.VolumesDeleted)
			}
			return err
		}, nil},
		{"remove container", func() error { _, err := cli.ContainerRemove(ctx, "vc", client.ContainerRemoveOptions{}); return err }, nil},
		{"remove", func() error { _, err := cli.VolumeRemove(ctx, "v1", client.VolumeRemoveOptions{}); return err }, nil},
		{"remove again", func() error { _, err := cli.VolumeRemove(ctx, "v1", client.VolumeRemoveOptions{}); return err }, cerrdefs.IsNotFound},
		{"remove missing forced", func() error {
			_, err := cli.VolumeRemove(ctx, "nosuch", client.VolumeRemoveOptions{Force: true})
			return err
		}, nil},
		{"list empty", volNames(nil), nil},
	})
}

// TestSDKNetworkReconnect: a container disconnected from its only
// network can be connected again (docker-compose 1.29 does this to set
// aliases before start).
func TestSDKNetworkReconnect(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	runSDKSteps(t, []sdkStep{
		{"pull", func() error { return sdkPull(ctx, cli, "alpine:3.20") }, nil},
		{"network", func() error { _, err := cli.NetworkCreate(ctx, "rn", client.NetworkCreateOptions{}); return err }, nil},
		{"create on it", func() error {
			_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "rc", Config: &container.Config{Image: "alpine:3.20"}, HostConfig: &container.HostConfig{NetworkMode: "rn"}})
			return err
		}, nil},
		{"disconnect", func() error {
			_, err := cli.NetworkDisconnect(ctx, "rn", client.NetworkDisconnectOptions{Container: "rc"})
			return err
		}, nil},
		{"connect again", func() error {
			_, err := cli.NetworkConnect(ctx, "rn", client.NetworkConnectOptions{Container: "rc", EndpointConfig: &network.EndpointSettings{Aliases: []string{"again"}}})
			return err
		}, nil},
		{"connected with alias", func() error {
			c, err := cli.ContainerInspect(ctx, "rc", client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			if ep := c.Container.NetworkSettings.Networks["rn"]; ep == nil || !slices.Contains(ep.Aliases, "again") {
				return bad("networks %v", c.Container.NetworkSettings.Networks)
			}
			return nil
		}, nil},
	})
}

// TestSDKVolumesAnonymous: a volume created without a name is anonymous
// (moby labels it com.docker.volume.anonymous), so a plain prune removes
// it, as do container-created unnamed volumes.
func TestSDKVolumesAnonymous(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	var anon string
	runSDKSteps(t, []sdkStep{
		{"create named", func() error { _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "named"}); return err }, nil},
		{"create anonymous", func() error {
			r, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{})
			anon = r.Volume.Name
			if err == nil && len(anon) != 64 {
				return bad("anonymous volume name %q", anon)
			}
			return err
		}, nil},
		{"anonymous label", func() error {
			v, err := cli.VolumeInspect(ctx, anon, client.VolumeInspectOptions{})
			if _, ok := v.Volume.Labels["com.docker.volume.anonymous"]; err == nil && !ok {
				return bad("labels %v, want com.docker.volume.anonymous", v.Volume.Labels)
			}
			return err
		}, nil},
		{"prune removes only the anonymous one", func() error {
			r, err := cli.VolumePrune(ctx, client.VolumePruneOptions{})
			if err == nil && !slices.Equal(r.Report.VolumesDeleted, []string{anon}) {
				return bad("pruned %q, want [%s]", r.Report.VolumesDeleted, anon)
			}
			return err
		}, nil},
	})
}

// TestSDKConcurrentCreateSameName: of 50 simultaneous creates of one
// name exactly one wins; the rest get 409.
func TestSDKConcurrentCreateSameName(t *testing.T) {
	_, cli := newSDK(t, embedded.Options{Synthetic: true})
	ctx := context.Background()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	startGate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			_, errs[i] = cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "race", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"true"}}})
		}()
	}
	close(startGate)
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case cerrdefs.IsConflict(err):
			conflicts++
		default:
			t.Errorf("create: unexpected error %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d successes and %d conflicts, want 1 and %d", ok, conflicts, n-1)
	}
	l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil || len(l.Items) != 1 || !slices.Equal(l.Items[0].Names, []string{"/race"}) {
		t.Fatalf("after the race: %v %+v", err, l.Items)
	}
}
