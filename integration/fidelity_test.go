package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
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
		{name: "misspelt security opt", hc: container.HostConfig{SecurityOpt: []string{"writeable-cgroups=true"}}, status: cerrdefs.IsInvalidArgument, msg: `invalid --security-opt 2: "writeable-cgroups=true"`},
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
