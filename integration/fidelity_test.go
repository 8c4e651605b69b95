package integration

import (
	"archive/tar"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sockerless/sockerless/internal/embedded"
)

// memoryOptions starts an embedded Sockerless on the memory provider.
func memoryOptions(t *testing.T) embedded.Options {
	return embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")}
}

// rawCT does one request with a given Content-Type.
func rawCT(t *testing.T, s *server, method, path, ct, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://docker"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestFidelityCreateRefusals: what Docker 28.2 refuses at create
// (moby daemon/container.go verifyContainerSettings, daemon_unix.go,
// runconfig, httputils), Sockerless refuses with the same status and
// message, and creates nothing.
func TestFidelityCreateRefusals(t *testing.T) {
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	img := "alpine:3.20"
	cmd := []string{"true"}
	neg := -time.Second
	one := int64(1)
	_ = one
	cases := []struct {
		name   string
		cfg    container.Config
		hc     container.HostConfig
		plat   *ocispec.Platform
		status func(error) bool
		msg    string
	}{
		{name: "link to a missing container", hc: container.HostConfig{Links: []string{"nosuch:a"}}, status: cerrdefs.IsInvalidArgument, msg: "could not get container for nosuch: No such container: nosuch"},
		{name: "env with an empty name", cfg: container.Config{Env: []string{"=foo"}}, status: cerrdefs.IsInvalidArgument, msg: "invalid environment variable: =foo"},
		{name: "tmpfs relative target", hc: container.HostConfig{Tmpfs: map[string]string{"foo": ""}}, status: cerrdefs.IsInvalidArgument, msg: "invalid mount path: 'foo' mount path must be absolute"},
		{name: "tmpfs on root", hc: container.HostConfig{Tmpfs: map[string]string{"/": ""}}, status: cerrdefs.IsInvalidArgument, msg: "invalid specification: destination can't be '/'"},
		{name: "negative health interval", cfg: container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: neg}}, status: cerrdefs.IsInvalidArgument, msg: "Interval in Healthcheck cannot be less than 1ms"},
		{name: "negative health timeout", cfg: container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, Timeout: neg}}, status: cerrdefs.IsInvalidArgument, msg: "Timeout in Healthcheck cannot be less than 1ms"},
		{name: "negative health start period", cfg: container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, StartPeriod: neg}}, status: cerrdefs.IsInvalidArgument, msg: "StartPeriod in Healthcheck cannot be less than 1ms"},
		{name: "negative health retries", cfg: container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}, Retries: -1}}, status: cerrdefs.IsInvalidArgument, msg: "Retries in Healthcheck cannot be negative"},
		{name: "volumes-from a missing container", hc: container.HostConfig{VolumesFrom: []string{"nosuch"}}, status: cerrdefs.IsInvalidArgument, msg: "No such container: nosuch"},
		{name: "ipc invalid", hc: container.HostConfig{IpcMode: "invalid"}, status: cerrdefs.IsInvalidArgument, msg: "invalid IPC mode: invalid"},
		{name: "pid invalid", hc: container.HostConfig{PidMode: "invalid"}, status: cerrdefs.IsInvalidArgument, msg: "invalid PID mode: invalid"},
		{name: "uts invalid", hc: container.HostConfig{UTSMode: "invalid"}, status: cerrdefs.IsInvalidArgument, msg: "invalid UTS mode: invalid"},
		{name: "ipc of a missing container", hc: container.HostConfig{IpcMode: "container:nosuch"}, status: cerrdefs.IsInvalidArgument, msg: "No such container: nosuch"},
		{name: "pid of a missing container", hc: container.HostConfig{PidMode: "container:nosuch"}, status: cerrdefs.IsInvalidArgument, msg: "No such container: nosuch"},
		{name: "uts of a container", hc: container.HostConfig{UTSMode: "container:nosuch"}, status: cerrdefs.IsInvalidArgument, msg: "invalid UTS mode: container:nosuch"},
		{name: "empty annotation key", hc: container.HostConfig{Annotations: map[string]string{"": "v"}}, status: cerrdefs.IsInvalidArgument, msg: "invalid Annotations: the empty string is not permitted as an annotation key"},
		{name: "negative cpu shares", hc: container.HostConfig{Resources: container.Resources{CPUShares: -1}}, status: cerrdefs.IsInvalidArgument, msg: "invalid CPU shares (-1): value must be a positive integer"},
		{name: "negative nano cpus", hc: container.HostConfig{Resources: container.Resources{NanoCPUs: -1}}, status: cerrdefs.IsInvalidArgument, msg: "range of CPUs is from 0.01 to"},
		{name: "memory below 6MB", hc: container.HostConfig{Resources: container.Resources{Memory: 1}}, status: cerrdefs.IsInvalidArgument, msg: "Minimum memory limit allowed is 6MB"},
		{name: "relative working dir", cfg: container.Config{WorkingDir: "tmp"}, status: cerrdefs.IsInvalidArgument, msg: "the working directory 'tmp' is invalid, it needs to be an absolute path"},
		// dockerd 28.2.2 answers this one with a 500.
		{name: "misspelt security opt", hc: container.HostConfig{SecurityOpt: []string{"writeable-cgroups=true"}}, status: cerrdefs.IsInternal, msg: `invalid --security-opt 2: "writeable-cgroups=true"`},
		{name: "platform not the image's", plat: &ocispec.Platform{OS: "linux", Architecture: "s390x"}, status: cerrdefs.IsNotFound, msg: "does not match the specified platform (linux/s390x)"},
		{name: "bad body before missing image", cfg: container.Config{Image: "nosuch:1", Env: []string{"=foo"}}, status: cerrdefs.IsInvalidArgument, msg: "invalid environment variable: =foo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Image == "" {
				cfg.Image = img
			}
			cfg.Cmd = cmd
			hc := tc.hc
			_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "refused", Config: &cfg, HostConfig: &hc, Platform: tc.plat})
			if err == nil {
				t.Fatalf("create succeeded; Docker refuses it with %q", tc.msg)
			}
			if !tc.status(err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("create: %v (%T); want %q of the right class", err, err, tc.msg)
			}
			if _, err := cli.ContainerInspect(ctx, "refused", client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
				t.Fatalf("a refused create left a container: %v", err)
			}
		})
	}
	body := `{"Image":"alpine:3.20","Cmd":["true"]}`
	t.Run("text/plain body", func(t *testing.T) {
		code, out := rawCT(t, s, "POST", "/containers/create", "text/plain", body)
		if code != 400 || !strings.Contains(out, "unsupported Content-Type header (text/plain): must be 'application/json'") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("trailing content", func(t *testing.T) {
		code, out := rawCT(t, s, "POST", "/containers/create", "application/json", body+`{"x":1}`)
		if code != 400 || !strings.Contains(out, "unexpected content after JSON") {
			t.Fatalf("%d %s", code, out)
		}
	})
}

// TestFidelityCreateDefaults: what Docker 28.2 records at create that a
// client did not set, and how it normalises what it did set.
func TestFidelityCreateDefaults(t *testing.T) {
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, name string, cfg container.Config, hc container.HostConfig) container.InspectResponse {
		t.Helper()
		cfg.Image, cfg.Cmd = "alpine:3.20", []string{"true"}
		if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &cfg, HostConfig: &hc}); err != nil {
			t.Fatal(err)
		}
		r, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Container
	}
	t.Run("ipc private", func(t *testing.T) {
		if got := create(t, "ipc0", container.Config{}, container.HostConfig{}).HostConfig.IpcMode; got != "private" {
			t.Fatalf("IpcMode %q, want private", got)
		}
	})
	t.Run("ipc shareable before API 1.40", func(t *testing.T) {
		code, _, body := raw(t, s, "POST", "/v1.39/containers/create?name=ipc1", `{"Image":"alpine:3.20","Cmd":["true"]}`)
		if code != 201 {
			t.Fatalf("create at 1.39: %d %s", code, body)
		}
		r, err := cli.ContainerInspect(ctx, "ipc1", client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Container.HostConfig.IpcMode; got != "shareable" {
			t.Fatalf("IpcMode %q, want shareable", got)
		}
	})
	t.Run("masked and read-only paths", func(t *testing.T) {
		hc := create(t, "paths0", container.Config{}, container.HostConfig{}).HostConfig
		if !slices.Contains(hc.MaskedPaths, "/proc/kcore") || !slices.Contains(hc.MaskedPaths, "/sys/firmware") || len(hc.MaskedPaths) < 12 {
			t.Fatalf("MaskedPaths %v", hc.MaskedPaths)
		}
		if !slices.Equal(hc.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
			t.Fatalf("ReadonlyPaths %v", hc.ReadonlyPaths)
		}
		priv := create(t, "paths1", container.Config{}, container.HostConfig{Privileged: true}).HostConfig
		if priv.MaskedPaths != nil || priv.ReadonlyPaths != nil {
			t.Fatalf("privileged: masked %v read-only %v, want none", priv.MaskedPaths, priv.ReadonlyPaths)
		}
	})
	t.Run("shm size and swap", func(t *testing.T) {
		hc := create(t, "shm0", container.Config{}, container.HostConfig{Resources: container.Resources{Memory: 10 << 20}}).HostConfig
		if hc.ShmSize != 64<<20 || hc.MemorySwap != 20<<20 {
			t.Fatalf("ShmSize %d MemorySwap %d, want 64 MiB and twice the memory", hc.ShmSize, hc.MemorySwap)
		}
	})
	t.Run("working dir cleaned", func(t *testing.T) {
		if got := create(t, "wd0", container.Config{WorkingDir: "/tmp/"}, container.HostConfig{}).Config.WorkingDir; got != "/tmp" {
			t.Fatalf("WorkingDir %q, want /tmp", got)
		}
	})
	t.Run("links", func(t *testing.T) {
		create(t, "a0", container.Config{}, container.HostConfig{})
		b := create(t, "b0", container.Config{}, container.HostConfig{Links: []string{"a0"}})
		if !slices.Equal(b.HostConfig.Links, []string{"/a0:/b0/a0"}) {
			t.Fatalf("Links %v, want [/a0:/b0/a0]", b.HostConfig.Links)
		}
		create(t, "c0", container.Config{}, container.HostConfig{Links: []string{"/a0:db"}})
		l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Items {
			if c.Names[0] == "/a0" {
				names := slices.Clone(c.Names)
				slices.Sort(names)
				if !slices.Equal(names, []string{"/a0", "/b0/a0", "/c0/db"}) {
					t.Fatalf("a0 listed as %v", c.Names)
				}
				return
			}
		}
		t.Fatal("a0 not listed")
	})
	t.Run("annotations listed", func(t *testing.T) {
		create(t, "ann0", container.Config{}, container.HostConfig{Annotations: map[string]string{"k": "v"}})
		l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Items {
			if c.Names[0] == "/ann0" {
				if c.HostConfig.Annotations["k"] != "v" {
					t.Fatalf("list HostConfig %+v, want annotations", c.HostConfig)
				}
				return
			}
		}
		t.Fatal("ann0 not listed")
	})
	t.Run("image created", func(t *testing.T) {
		img, err := cli.ImageInspect(ctx, "alpine:3.20")
		if err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, img.Created)
		if err != nil || at.Year() < 2000 {
			t.Fatalf("image Created %q (%v)", img.Created, err)
		}
	})
}

// TestFidelityUpdate: docker update records the restart policy and
// resources, refuses what Docker refuses, and checks the body before the
// container is looked up.
func TestFidelityUpdate(t *testing.T) {
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sdkPull(ctx, cli, "alpine:3.20"); err != nil {
		t.Fatal(err)
	}
	mk := func(t *testing.T, name string, hc container.HostConfig) {
		t.Helper()
		if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"true"}}, HostConfig: &hc}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("restart policy and resources", func(t *testing.T) {
		mk(t, "u0", container.HostConfig{Resources: container.Resources{Memory: 10 << 20}})
		_, err := cli.ContainerUpdate(ctx, "u0", client.ContainerUpdateOptions{
			RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3},
			Resources:     &container.Resources{Memory: 16 << 20, CPUShares: 512},
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cli.ContainerInspect(ctx, "u0", client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hc := r.Container.HostConfig
		if hc.RestartPolicy.Name != container.RestartPolicyOnFailure || hc.RestartPolicy.MaximumRetryCount != 3 || hc.Memory != 16<<20 || hc.CPUShares != 512 {
			t.Fatalf("after update: restart %+v memory %d shares %d", hc.RestartPolicy, hc.Memory, hc.CPUShares)
		}
	})
	t.Run("docker CLI", func(t *testing.T) {
		runSteps(t, s, []step{
			d(0, `^u0$`, "update", "--restart", "unless-stopped", "-m", "20m", "--memory-swap", "40m", "--cpu-shares", "256", "u0"),
			d(0, `^unless-stopped 20971520 41943040 256$`, "inspect", "u0", "--format", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CPUShares}}"),
			d(0, ``, "create", "--rm", "--name", "u3", "alpine:3.20", "true"),
			d(1, `Restart policy cannot be updated because AutoRemove is enabled for the container`, "update", "--restart", "always", "u3"),
		})
	})
	t.Run("an updated restart policy applies at the next exit", func(t *testing.T) {
		if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "u2", Config: &container.Config{Image: "alpine:3.20", Cmd: []string{"sh", "-c", "exit 3"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.ContainerUpdate(ctx, "u2", client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 1}}); err != nil {
			t.Fatal(err)
		}
		ectx, ecancel := context.WithTimeout(ctx, time.Minute) // a hang guard only
		defer ecancel()
		// Since: the stream may reach the server after the first exit.
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		ev := cli.Events(ectx, client.EventsListOptions{Since: since, Filters: make(client.Filters).Add("container", "u2").Add("event", "die")})
		if _, err := cli.ContainerStart(ctx, "u2", client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		// The first run and the one restart each die; then it stays down.
		for dies := 0; dies < 2; {
			select {
			case <-ev.Messages:
				dies++
			case err := <-ev.Err:
				t.Fatalf("events: %v", err)
			}
		}
		in, err := cli.ContainerInspect(ctx, "u2", client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if in.Container.RestartCount != 1 {
			t.Fatalf("RestartCount %d, want 1", in.Container.RestartCount)
		}
	})
	t.Run("auto-remove refuses a restart policy", func(t *testing.T) {
		mk(t, "u1", container.HostConfig{AutoRemove: true})
		_, err := cli.ContainerUpdate(ctx, "u1", client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyAlways}})
		if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "Restart policy cannot be updated because AutoRemove is enabled for the container") {
			t.Fatalf("update: %v", err)
		}
	})
	t.Run("unknown policy", func(t *testing.T) {
		_, err := cli.ContainerUpdate(ctx, "u0", client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: "sometimes"}})
		if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid restart policy: unknown policy 'sometimes'") {
			t.Fatalf("update: %v", err)
		}
	})
	t.Run("body before lookup", func(t *testing.T) {
		code, body := rawCT(t, s, "POST", "/containers/nosuch/update", "application/json", `{"Memory":1}`)
		if code != 400 || !strings.Contains(body, "Minimum memory limit allowed is 6MB") {
			t.Fatalf("%d %s", code, body)
		}
		if _, err := cli.ContainerUpdate(ctx, "nosuch", client.ContainerUpdateOptions{}); !cerrdefs.IsNotFound(err) {
			t.Fatalf("update of a missing container: %v", err)
		}
	})
}

// TestFidelityDiffExport: docker diff and docker export on the memory
// provider, whose roots are folders; an image known by its config only
// has no baseline for diff, which says so with 501.
func TestFidelityDiffExport(t *testing.T) {
	s, cli := newSDK(t, memoryOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	img := filepath.Join(dir, "img.tar")
	imageTarball(t, img, "difftest:1", []string{"true"}, layerTar(t, []tarEntry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/greeting.txt", typ: tar.TypeReg, body: "hello\n"},
		{name: "app/", typ: tar.TypeDir, mode: 0o755},
		{name: "app/keep.txt", typ: tar.TypeReg, body: "keep\n"},
		{name: "gone/", typ: tar.TypeDir, mode: 0o755},
		{name: "gone/a.txt", typ: tar.TypeReg, body: "a\n"},
		{name: "data/", typ: tar.TypeDir, mode: 0o755},
	}))
	runSteps(t, s, []step{
		d(0, `Loaded image: difftest:1`, "load", "-i", img),
		d(0, ``, "run", "--name", "df", "-v", "vol:/data", "difftest:1", "sh", "-c", "echo new > /app/new.txt; rm -r /gone; echo more >> /etc/greeting.txt; echo v > /data/v.txt"),
		d(0, `^C /app\nA /app/new.txt\nC /etc\nC /etc/greeting.txt\nD /gone$`, "diff", "df"),
		// A fresh container has no changes: what the provider adds to
		// every root (Docker's init layer and /etc files) is not one.
		// Docker makes a mount point when it first starts the container.
		d(0, ``, "create", "--name", "fresh", "-v", "vol2:/new/sub", "difftest:1", "true"),
		d(0, `^$`, "diff", "fresh"),
		d(0, ``, "start", "-a", "fresh"),
		d(0, `^A /new\nA /new/sub$`, "diff", "fresh"),
	})
	t.Run("export", func(t *testing.T) {
		rc, err := cli.ContainerExport(ctx, "df", client.ContainerExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		files := map[string]string{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
		if files["app/new.txt"] != "new\n" || files["etc/greeting.txt"] != "hello\nmore\n" || files["app/keep.txt"] != "keep\n" {
			t.Fatalf("export lacks the container's files: %v", keys(files))
		}
		if _, ok := files["data/"]; !ok {
			t.Fatalf("export lacks the mount point data/: %v", keys(files))
		}
		for n := range files {
			if strings.HasPrefix(n, "gone") || strings.HasPrefix(n, "/") || n == "data/v.txt" {
				t.Fatalf("export has %q (all: %v)", n, keys(files))
			}
		}
	})
	t.Run("diff without layers", func(t *testing.T) {
		runSteps(t, s, []step{
			d(0, ``, "pull", "alpine:3.20"),
			d(0, ``, "create", "--name", "ph", "alpine:3.20", "true"),
		})
		// Nothing changed yet: Docker lists no changes (the provider
		// recorded the root it made as the container's base).
		code, body := rawCT(t, s, "GET", "/containers/ph/changes", "", "")
		if code != 200 || strings.Contains(body, "Path") {
			t.Fatalf("%d %s", code, body)
		}
	})
}

// TestFidelityRmiForceTag: docker rmi -f of one of an image's tags only
// untags it, as Docker does.
func TestFidelityRmiForceTag(t *testing.T) {
	s := startServer(t, memoryOptions(t))
	runSteps(t, s, []step{
		d(0, ``, "pull", "alpine:3.20"),
		d(0, ``, "tag", "alpine:3.20", "mine:1"),
		d(0, `^Untagged: mine:1$`, "rmi", "-f", "mine:1"),
		d(0, `alpine`, "image", "inspect", "alpine:3.20", "--format", "{{.RepoTags}}"),
	})
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
