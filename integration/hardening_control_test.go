package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestHardeningControl holds the control-plane findings of the issue "No
// container can harm Sockerless, the host or another container", one
// subtest per finding, each through the docker CLI or the Engine API as a
// client sends it, against the embedded default (memory provider) or
// split mode (sockerless-functions, sockerless-relay and the shim as
// separate processes).
func TestHardeningControl(t *testing.T) {
	bin := hcBuild(t)

	t.Run("finding05_anonymous_volume", func(t *testing.T) {
		s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
		runSteps(t, s, []step{
			d(0, ``, "pull", "alpine:3.20"),
			d(0, ``, "volume", "create", "tenant-a"),
			d(0, ``, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "sh", "-c", "echo secret > /d/key"),
			// A volume mount without a source is a fresh, empty volume,
			// not the folder of every volume.
			d(0, `^empty$`, "run", "--rm", "--mount", "type=volume,dst=/anon", "alpine:3.20", "sh", "-c", `[ -z "$(ls -A /anon)" ] && echo empty`),
			d(0, `^empty$`, "run", "--rm", "-v", "/data", "alpine:3.20", "sh", "-c", `[ -z "$(ls -A /data)" ] && echo empty`),
			// --rm took its anonymous volumes with it.
			d(0, `^tenant-a$`, "volume", "ls", "-q"),
			d(0, ``, "run", "--name", "anon", "-v", "/data", "alpine:3.20", "sh", "-c", "echo kept > /data/f"),
			d(0, `^volume [0-9a-f]{64} /var/lib/sockerless/volumes/[0-9a-f]{64}/_data local true$`, "inspect", "anon", "--format",
				`{{range .Mounts}}{{if eq .Destination "/data"}}{{.Type}} {{.Name}} {{.Source}} {{.Driver}} {{.RW}}{{end}}{{end}}`),
		})
		name := strings.TrimSpace(mustOut(t, s, "inspect", "anon", "--format", `{{range .Mounts}}{{.Name}}{{end}}`))
		runSteps(t, s, []step{
			d(0, `(?m)^`+name+`$`, "volume", "ls", "-q"),
			d(0, `^$`, "volume", "inspect", name, "--format", `{{index .Labels "com.docker.volume.anonymous"}}`),
			// Another container does not see that volume's data either.
			d(0, `^empty$`, "run", "--rm", "-v", "/data", "alpine:3.20", "sh", "-c", `[ -z "$(ls -A /data)" ] && echo empty`),
			d(0, ``, "rm", "-v", "anon"),
			d(0, `^tenant-a$`, "volume", "ls", "-q"),
		})
		// An image's VOLUME gets one too.
		ctx := t.TempDir()
		if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM alpine:3.20\nRUN mkdir /cache && echo seeded > /cache/f\nVOLUME /cache\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runSteps(t, s, []step{
			d(0, ``, "build", "-q", "-t", "withvol", ctx),
			d(0, ``, "create", "--name", "iv", "withvol", "true"),
			d(0, `^/cache [0-9a-f]{64}$`, "inspect", "iv", "--format", `{{range .Mounts}}{{.Destination}} {{.Name}}{{end}}`),
			d(0, ``, "rm", "-v", "iv"),
			// The fresh volume starts with the image's content there, as
			// Docker copies it up; a write goes to the volume only.
			d(0, `^seeded$`, "run", "--rm", "withvol", "sh", "-c", "cat /cache/f; echo changed > /cache/f"),
			d(0, `^seeded$`, "run", "--rm", "withvol", "cat", "/cache/f"),
			d(0, `^empty$`, "run", "--rm", "--mount", "type=volume,dst=/cache,volume-nocopy", "withvol", "sh", "-c", `[ -z "$(ls -A /cache)" ] && echo empty`),
			d(0, `^tenant-a$`, "volume", "ls", "-q"),
		})
	})

	t.Run("finding06_volume_names", func(t *testing.T) {
		s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
		s.docker(t, "", "pull", "alpine:3.20")
		tests := []struct {
			path, body, want string
		}{
			{"/volumes/create", `{"Name":"."}`, `create .: volume name is too short, names should be at least two alphanumeric characters`},
			{"/volumes/create", `{"Name":"/"}`, `create /: volume name is too short`},
			{"/volumes/create", `{"Name":".."}`, `create ..: \"..\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path`},
			{"/volumes/create", `{"Name":"a/../../x"}`, `includes invalid characters for a local volume name`},
			{"/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Binds":["a/../../../../tmp/x:/x"]}}`, `create a/../../../../tmp/x: \"a/../../../../tmp/x\" includes invalid characters for a local volume name`},
			{"/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"volume","Source":"../../x","Target":"/x"}]}}`, `create ../../x: \"../../x\" includes invalid characters`},
			{"/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"volume","Source":".","Target":"/x"}]}}`, `create .: volume name is too short`},
		}
		for _, tc := range tests {
			code, _, body := raw(t, s, "POST", tc.path, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("POST %s %s = %d %s, want 400 containing %s", tc.path, tc.body, code, body, tc.want)
			}
		}
		// Nothing was made by the refused requests.
		runSteps(t, s, []step{d(0, `^$`, "volume", "ls", "-q"), d(0, `^$`, "ps", "-aq")})
	})

	t.Run("finding07_relative_bind", func(t *testing.T) {
		s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
		s.docker(t, "", "pull", "alpine:3.20")
		for _, src := range []string{"..", "./x", "x/y"} {
			code, _, body := raw(t, s, "POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Binds":["`+src+`:/r"]}}`)
			want := fmt.Sprintf(`create %s: \"%s\" includes invalid characters for a local volume name`, src, src)
			if code != http.StatusBadRequest || !strings.Contains(body, want) {
				t.Errorf("Binds %s:/r = %d %s, want 400 containing %s", src, code, body, want)
			}
		}
		code, _, body := raw(t, s, "POST", "/containers/create", `{"Image":"alpine:3.20","Cmd":["true"],"HostConfig":{"Mounts":[{"Type":"bind","Source":"..","Target":"/r"}]}}`)
		if code != http.StatusBadRequest || !strings.Contains(body, `invalid mount config for type \"bind\": invalid mount path: '..' mount path must be absolute`) {
			t.Errorf("bind mount of .. = %d %s, want 400", code, body)
		}
		runSteps(t, s, []step{d(0, `^$`, "ps", "-aq")})
	})

	t.Run("finding08_volume_rm_deletes", func(t *testing.T) {
		s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
		runSteps(t, s, []step{
			d(0, ``, "pull", "alpine:3.20"),
			d(0, ``, "volume", "create", "tenant-a"),
			d(0, ``, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "sh", "-c", "echo secret > /d/key"),
			d(0, `^secret$`, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "cat", "/d/key"),
			d(0, `^tenant-a$`, "volume", "rm", "tenant-a"),
			d(0, `^gone$`, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "sh", "-c", "[ ! -e /d/key ] && echo gone"),
			// docker volume prune deletes the data too.
			d(0, ``, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "sh", "-c", "echo again > /d/key"),
			d(0, `tenant-a`, "volume", "prune", "-af"),
			d(0, `^gone$`, "run", "--rm", "-v", "tenant-a:/d", "alpine:3.20", "sh", "-c", "[ ! -e /d/key ] && echo gone"),
		})
	})

	t.Run("finding09_split_host_binds_and_secrets", func(t *testing.T) {
		sp := hcSplit(t, bin, "memory")
		sp.r.mustDocker(t, "pull", "alpine:3.20")
		// The shim carries a bind of a runner-host folder to the
		// workload (docs/decisions.md "Binds of the runner host are
		// carried"), so functions never receives a host path: what a
		// workload reads through a bind is the runner host's folder,
		// never the functions host's. The runner host's root and its
		// pseudo file systems (its processes' environments) are never
		// carried: refused at create.
		for _, args := range [][]string{
			{"run", "--rm", "-v", "/:/host", "alpine:3.20", "cat", "/host/proc/self/environ"},
			{"run", "--rm", "--mount", "type=bind,src=/,dst=/host", "alpine:3.20", "true"},
			{"run", "--rm", "-v", "/proc:/host", "alpine:3.20", "cat", "/host/self/environ"},
			{"run", "--rm", "-v", fmt.Sprintf("/proc/%d:/host", sp.fn.Process.Pid), "alpine:3.20", "cat", "/host/environ"},
		} {
			out, code := sp.r.docker(t, args...)
			if code != 125 || !strings.Contains(out, "cannot be carried to the container") {
				t.Fatalf("docker %v = exit %d:\n%s\nwant 125 refusing to carry the bind", args, code, out)
			}
			if strings.Contains(out, hcSecret) || strings.Contains(out, hcToken) {
				t.Fatalf("docker %v printed a secret:\n%s", args, out)
			}
		}
		// A bind of a runner-host folder is carried: the workload reads
		// the runner host's file, and what it writes comes back (without
		// --rm: docs/decisions.md, a --rm container may be removed before
		// the pull).
		hostDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("runner-host"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := sp.r.mustDocker(t, "run", "--name", "carried", "-v", hostDir+":/host", "alpine:3.20", "sh", "-c", "cat /host/f; echo back > /host/g"); out != "runner-host" {
			t.Fatalf("a carried bind read %q, want the runner host's file", out)
		}
		if b, err := os.ReadFile(filepath.Join(hostDir, "g")); err != nil || string(b) != "back\n" {
			t.Fatalf("the file the workload wrote in the carried bind: %q, %v", b, err)
		}
		sp.r.mustDocker(t, "rm", "carried")
		// Named volumes still work, and their removal deletes the data
		// here too.
		sp.r.mustDocker(t, "run", "--rm", "-v", "vol:/d", "alpine:3.20", "sh", "-c", "echo x > /d/f")
		sp.r.mustDocker(t, "volume", "rm", "vol")
		if out := sp.r.mustDocker(t, "run", "--rm", "-v", "vol:/d", "alpine:3.20", "ls", "-A", "/d"); out != "" {
			t.Fatalf("a new volume of a removed one's name holds %q", out)
		}
		// No secret sits in the functions process's environment, where
		// a workload reading the host's /proc would find it.
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", sp.fn.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(env), hcSecret) || strings.Contains(string(env), hcToken) {
			t.Fatalf("sockerless-functions' /proc environ holds a secret:\n%s", strings.ReplaceAll(string(env), "\x00", "\n"))
		}
	})

	t.Run("finding11_exec_relay_down", func(t *testing.T) {
		sp := hcSplit(t, bin, "memory")
		sp.r.mustDocker(t, "pull", "alpine:3.20")
		sp.r.mustDocker(t, "run", "-d", "--name", "box", "alpine:3.20", "sleep", "600")
		if out := sp.r.mustDocker(t, "exec", "box", "echo", "up"); out != "up\n" {
			t.Fatalf("exec with the relay up = %q", out)
		}
		sp.stopRelay(t)
		out, code := sp.r.docker(t, "exec", "box", "echo", "ran")
		// Docker's path for an exec that could not start: the error as
		// the stream's text, exit 126.
		if code != 126 || strings.Contains(out, "ran") || !strings.Contains(out, "cannot reach the container's agent") {
			t.Fatalf("exec with the relay down = exit %d:\n%s\nwant 126 and the reason", code, out)
		}
		// The exec record ended with a code: it never ran.
		ids := strings.Fields(strings.Trim(sp.r.mustDocker(t, "inspect", "box", "--format", "{{.ExecIDs}}"), "[]\n"))
		if len(ids) != 2 {
			t.Fatalf("exec ids = %v, want 2", ids)
		}
		codes := map[int]int{}
		for _, id := range ids {
			var e struct {
				Running  bool
				ExitCode *int
			}
			sp.api(t, "GET", "/exec/"+id+"/json", &e)
			if e.Running || e.ExitCode == nil {
				t.Fatalf("exec %s: Running %v, ExitCode %v; want ended with a code", id, e.Running, e.ExitCode)
			}
			codes[*e.ExitCode]++
		}
		if codes[0] != 1 || codes[126] != 1 {
			t.Fatalf("exec exit codes = %v, want one 0 (ran) and one 126 (never ran)", codes)
		}
	})

	t.Run("finding12_hung_store", func(t *testing.T) {
		emu, err := emulators.DynamoDB()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emu.Stop)
		sp := hcSplit(t, bin, "dynamodb://hung?region=us-east-1&endpoint="+emu.Endpoint,
			"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true")
		sp.r.mustDocker(t, "pull", "alpine:3.20")
		sp.r.mustDocker(t, "create", "--name", "c1", "alpine:3.20", "true")
		if err := emu.Freeze(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		t.Cleanup(func() {
			if !thawed {
				_ = emu.Thaw()
			}
		})
		// Each request answers (the runner's 90 s hang guard would
		// fail the test otherwise) with Docker's 503 path, each store
		// call cut at the default SOCKERLESS_STORE_TIMEOUT (5 s).
		for _, args := range [][]string{{"ps", "-a"}, {"inspect", "c1"}, {"create", "alpine:3.20", "true"}} {
			began := time.Now()
			out, code := sp.r.docker(t, args...)
			t.Logf("docker %v with the store frozen answered in %v (measured, not asserted)", args, time.Since(began).Round(time.Millisecond))
			if code == 0 || !strings.Contains(out, "state store unreachable") {
				t.Fatalf("docker %v with the store frozen = exit %d:\n%s\nwant state store unreachable", args, code, out)
			}
		}
		code, body := sp.rawCode(t, "GET", "/containers/json")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "state store unreachable") {
			t.Fatalf("GET /containers/json with the store frozen = %d %s, want 503", code, body)
		}
		if err := emu.Thaw(); err != nil {
			t.Fatal(err)
		}
		thawed = true
		if out := sp.r.mustDocker(t, "ps", "-a", "--format", "{{.Names}}"); !strings.Contains(out, "c1") {
			t.Fatalf("docker ps after the thaw = %q", out)
		}
	})

	t.Run("finding14_failed_create_leaves_nothing", func(t *testing.T) {
		sp := hcSplit(t, bin, "memory")
		sp.r.mustDocker(t, "pull", "alpine:3.20")
		sp.stopRelay(t)
		out, code := sp.r.docker(t, "run", "--rm", "-v", "made-by-run:/d", "alpine:3.20", "true")
		if code == 0 {
			t.Fatalf("docker run with the relay down succeeded:\n%s", out)
		}
		if out := sp.r.mustDocker(t, "ps", "-aq"); out != "" {
			t.Fatalf("docker ps -aq after the failed create = %q", out)
		}
		if out := sp.r.mustDocker(t, "volume", "ls", "-q"); out != "" {
			t.Fatalf("docker volume ls -q after the failed create = %q, want the volume it made removed", out)
		}
		// The provider's workload and its root are gone too.
		roots, _ := filepath.Glob(filepath.Join(sp.tmp, "sockerless-functions-*", "containers", "*"))
		if len(roots) != 0 {
			t.Fatalf("container roots left after the failed create: %v", roots)
		}
	})

	t.Run("finding15_socket_squatting", func(t *testing.T) {
		tmp := t.TempDir()
		dir := filepath.Join(tmp, fmt.Sprintf("sockerless-%d", os.Getuid()))
		start := func() (string, int) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "sockerless"), "-h")
			cmd.Args = cmd.Args[:1]
			cmd.Env = hcEnvWithout(os.Environ(), "XDG_RUNTIME_DIR", "SOCKERLESS_LISTEN", "TMPDIR")
			cmd.Env = append(cmd.Env, "TMPDIR="+tmp, "SOCKERLESS_SYNTHETIC=1")
			out := &lockedBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			sock := filepath.Join(dir, "docker.sock")
			for {
				select {
				case err := <-exited:
					code := 0
					if ee, ok := err.(*exec.ExitError); ok {
						code = ee.ExitCode()
					}
					return out.String(), code
				case <-time.After(50 * time.Millisecond):
				}
				if c, err := net.Dial("unix", sock); err == nil {
					c.Close()
					_ = cmd.Process.Signal(syscall.SIGTERM)
					<-exited
					return "served", 0
				}
			}
		}
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // past the umask, as another user's mkdir -m 777
			t.Fatal(err)
		}
		if out, code := start(); code == 0 || !strings.Contains(out, "group and others must have no access") {
			t.Fatalf("a 0777 socket folder: exit %d, %q; want a refusal", code, out)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if os.Getuid() == 0 {
			// Another user's folder (root can give it away).
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			if out, code := start(); code == 0 || !strings.Contains(out, "is owned by uid 65534") {
				t.Fatalf("another user's socket folder: exit %d, %q; want a refusal", code, out)
			}
			if err := os.Chown(dir, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		if out, code := start(); out != "served" {
			t.Fatalf("the user's own 0700 folder: exit %d, %q; want served", code, out)
		}
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if out, code := start(); out != "served" {
			t.Fatalf("no folder yet: exit %d, %q; want served", code, out)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("the folder it made: %v %v, want mode 0700", fi, err)
		}
	})
}

const (
	hcSecret = "hc-secret-0123456789abcdef"
	hcToken  = "hc-token-0123456789abcdef"
)

// hcBuild builds the three binaries once for the subtests.
func hcBuild(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// hcSplitMode is one split-mode deployment: relay, functions and shim as
// separate processes on loopback.
type hcSplitMode struct {
	r     runner
	fn    *exec.Cmd
	relay *exec.Cmd
	tmp   string // the functions process's TMPDIR (its provider state)
	fnURL string
}

// hcSplit starts relay, functions (state store state, memory provider,
// extra environment) and a shim, stopped at the end of the test.
func hcSplit(t *testing.T, bin, state string, extra ...string) *hcSplitMode {
	t.Helper()
	sp := &hcSplitMode{tmp: t.TempDir()}
	rport, fport := mrFreePort(t), mrFreePort(t)
	sp.relay = hcStart(t, "relay", bin+"/sockerless-relay", "PORT="+rport, "SOCKERLESS_SECRET="+hcSecret)
	sp.fn = hcStart(t, "functions", bin+"/sockerless-functions", append([]string{"PORT=" + fport, "SOCKERLESS_SECRET=" + hcSecret,
		"SOCKERLESS_TOKEN=" + hcToken, "SOCKERLESS_STATE=" + state, "SOCKERLESS_PROVIDER=memory",
		"SOCKERLESS_RELAY_URL=ws://127.0.0.1:" + rport, "TMPDIR=" + sp.tmp}, extra...)...)
	sp.fnURL = "http://127.0.0.1:" + fport
	waitHTTP(t, sp.fnURL+"/_ping", "Bearer "+hcToken)
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	hcStart(t, "shim", bin+"/sockerless", "SOCKERLESS_CONTROL_PLANE_URL="+sp.fnURL, "SOCKERLESS_TOKEN="+hcToken, "SOCKERLESS_LISTEN=unix://"+sock)
	cfg := filepath.Join(dir, "dockercfg")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	sp.r = runner{name: "split", sock: sock, cfg: cfg}
	mrWait(t, "shim", 60*time.Second, func() error {
		_, err := sp.httpClient().Get("http://d/_ping")
		return err
	})
	return sp
}

func (sp *hcSplitMode) httpClient() *http.Client {
	return &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sp.r.sock)
	}}}
}

// rawCode calls the Engine API through the shim.
func (sp *hcSplitMode) rawCode(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://d/v1.50"+path, nil)
	resp, err := sp.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// api calls the Engine API through the shim and decodes the answer.
func (sp *hcSplitMode) api(t *testing.T, method, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://d/v1.50"+path, nil)
	resp, err := sp.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// stopRelay ends the relay, as an outage would.
func (sp *hcSplitMode) stopRelay(t *testing.T) {
	t.Helper()
	_ = sp.relay.Process.Kill()
	_ = sp.relay.Wait()
}

// hcStart starts bin with env added, killed at the end of the test (its
// output logged if the test failed).
func hcStart(t *testing.T, name, bin string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(hcEnvWithout(os.Environ(), "SOCKERLESS_SECRET", "SOCKERLESS_TOKEN"), env...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	return cmd
}

// hcEnvWithout is environ without the named variables.
func hcEnvWithout(environ []string, names ...string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// mustOut runs the docker CLI against s and returns its output, failing
// on a non-zero exit.
func mustOut(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, code := s.docker(t, "", args...)
	if code != 0 {
		t.Fatalf("docker %v: exit %d\n%s", args, code, out)
	}
	return out
}
