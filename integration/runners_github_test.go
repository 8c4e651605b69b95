package integration

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/integration/localcloud/awscloud"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// startECSRunner starts the local AWS, the relay, sockerless-functions
// with the ECS provider and a shim (with shimEnv), and returns a runner
// for the docker CLI and the local registry's busybox image.
func startECSRunner(t *testing.T, shimEnv ...string) (runner, string) {
	t.Helper()
	e, url, img := startECSFunctions(t)
	return e.shim(t, url, append([]string{"SOCKERLESS_TOKEN=gh-token"}, shimEnv...)...), img
}

// startECSFunctions starts the local AWS, the relay and
// sockerless-functions with the ECS provider (bearer token gh-token), and
// returns them, functions' URL and the local registry's busybox image.
func startECSFunctions(t *testing.T) (slEnv, string, string) {
	t.Helper()
	cloud, e, url := startECSCloud(t)
	return e, url, cloud.Image
}

// startECSCloud is startECSFunctions returning the local AWS itself (its
// registry and engine), for tests that push images of their own.
func startECSCloud(t *testing.T) (*awscloud.Cloud, slEnv, string) {
	t.Helper()
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := awscloud.Start(context.Background(), awscloud.Options{ModuleDir: root, EngineHost: os.Getenv("SOCKERLESS_LOCALCLOUD_ENGINE")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)
	e := slSetup(t)
	port := mrFreePort(t)
	url := "http://127.0.0.1:" + port
	mrStart(t, "functions (ecs)", e.bin+"/sockerless-functions", append(append([]string{}, cloud.Env...),
		"PORT="+port, "SOCKERLESS_SECRET=sl-secret", "SOCKERLESS_STATE=memory", "SOCKERLESS_PROVIDER=ecs",
		"SOCKERLESS_RELAY_URL="+e.relay, "SOCKERLESS_TOKEN=gh-token", "SOCKERLESS_CONTROL_PLANE_URL="+url,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")...)
	waitHTTP(t, url+"/_ping", "Bearer gh-token")
	return cloud, e, url
}

// TestGitHubActionsContainerJobWithServiceECS replays, call by call with
// the real docker CLI, the GitHub Actions runner's container job with a
// service (../shared/reference/ci-runner-sequences.md) through the ECS
// provider and the local AWS, where every container is a task of its own
// (its own network namespace, no shared file system): network create,
// the job container with `tail -f /dev/null` and the eight binds, a
// "postgres" service with an alias, a health check and readiness
// polling, steps written as scripts on the host and run with `exec -i`,
// a step that reaches `postgres:5432` by the alias and writes
// $GITHUB_OUTPUT that the host reads, a container action with logs
// --follow and wait whose output the host reads, and clean-up with rm
// --force. The service is busybox httpd on port 5432 standing in for
// PostgreSQL (the local registry has no Debian image with postgresql).
func TestGitHubActionsContainerJobWithServiceECS(t *testing.T) {
	r, img := startECSRunner(t)
	githubContainerJob(t, r, img)
}

// TestGitHubActionsContainerJobWithServiceDocker is the same flow through
// the docker provider (embedded, on the reference engine): each container
// is an engine container, on an engine network standing for the job's
// network with the container's aliases (providers/docker/network.go), so
// the engine's DNS resolves the service's alias.
func TestGitHubActionsContainerJobWithServiceDocker(t *testing.T) {
	eng, err := dockerengine.Start(context.Background(), dockerengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop() })
	dir := t.TempDir()
	agentBin := filepath.Join(dir, "sockerless-agent")
	if out, err := exec.Command("go", "build", "-tags", "osusergo netgo", "-o", agentBin, "../cmd/sockerless-agent").CombinedOutput(); err != nil {
		t.Fatalf("go build agent: %v\n%s", err, out)
	}
	e := slSetup(t)
	sock := filepath.Join(dir, "d.sock")
	mrStart(t, "shim (docker provider)", e.bin+"/sockerless", "SOCKERLESS_PROVIDER=docker", "SOCKERLESS_DOCKER_HOST="+eng.Host,
		"SOCKERLESS_DOCKER_AGENT="+agentBin, "SOCKERLESS_LISTEN=unix://"+sock)
	r := runner{name: "docker provider", sock: sock, cfg: t.TempDir()}
	mrWait(t, "shim", 60*time.Second, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	githubContainerJob(t, r, dockerengine.BusyboxImage)
}

// githubContainerJob is the GitHub runner's container job with a service,
// through r, on img (a busybox image).
func githubContainerJob(t *testing.T, r runner, img string) {
	lbl := "a1b2c3"
	net := "github_network_0f1e2d3c4b5a"
	t.Cleanup(func() {
		r.docker(t, "rm", "--force", "job", "postgres", "action")
		r.docker(t, "network", "rm", net)
	})

	// 1-3: versions, leftovers, the network (fatal if it fails).
	if v := strings.TrimSpace(r.mustDocker(t, "version", "--format", "{{.Server.APIVersion}}")); v < "1.35" {
		t.Fatalf("server API %q", v)
	}
	if out := strings.TrimSpace(r.mustDocker(t, "ps", "--all", "--quiet", "--no-trunc", "--filter", "label="+lbl)); out != "" {
		t.Fatalf("leftovers: %q", out)
	}
	r.mustDocker(t, "network", "prune", "--force", "--filter", "label="+lbl)
	r.mustDocker(t, "network", "create", "--label", lbl, net)
	r.mustDocker(t, "pull", img)

	host := t.TempDir()
	dirs := map[string]string{}
	// The runner's layout: everything but the externals under _work.
	for d, p := range map[string]string{"work": "_work", "externals": "externals", "temp": "_work/_temp", "actions": "_work/_actions",
		"tools": "_work/_tool", "home": "_work/_temp/_github_home", "workflow": "_work/_temp/_github_workflow"} {
		dirs[d] = filepath.Join(host, p)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The runner makes the workspace on the host before the job starts.
	if err := os.MkdirAll(filepath.Join(dirs["work"], "repo", "repo"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(host, "docker.sock")
	if err := os.WriteFile(sock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	binds := []string{"-v", sock + ":/var/run/docker.sock", "-v", dirs["work"] + ":/__w", "-v", dirs["externals"] + ":/__e:ro",
		"-v", dirs["temp"] + ":/__w/_temp", "-v", dirs["actions"] + ":/__w/_actions", "-v", dirs["tools"] + ":/__t",
		"-v", dirs["home"] + ":/github/home", "-v", dirs["workflow"] + ":/github/workflow"}

	// 5-7: the job container first, then the service, as the runner does.
	id := strings.TrimSpace(r.mustDocker(t, append(append([]string{"create", "--name", "job", "--label", lbl,
		"--workdir", "/__w/repo/repo", "--network", net, "-e", "GITHUB_ACTIONS=true", "-e", "CI=true"}, binds...),
		"--entrypoint", "tail", img, "-f", "/dev/null")...))
	r.mustDocker(t, "start", id)
	if out := r.mustDocker(t, "ps", "--all", "--filter", "id="+id, "--filter", "status=running", "--no-trunc", "--format", "{{.ID}} {{.Status}}"); !strings.HasPrefix(out, id+" Up") {
		t.Fatalf("job not running at once: %q", out)
	}
	if out := r.mustDocker(t, "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id); !strings.Contains(out, "PATH=") {
		t.Fatalf("no PATH in the job's env: %q", out)
	}
	svc := strings.TrimSpace(r.mustDocker(t, "create", "--name", "postgres", "--label", lbl, "--network", net, "--network-alias", "postgres",
		"--health-cmd", "wget -qO- http://127.0.0.1:5432/ready", "--health-interval", "1s", "--health-retries", "30",
		"--entrypoint", "sh", img, "-c", "mkdir -p /srv && echo pg-ready > /srv/ready && exec httpd -f -p 5432 -h /srv"))
	r.mustDocker(t, "start", svc)
	r.mustDocker(t, "port", svc)
	// 8: readiness polling with backoff until healthy.
	deadline := time.Now().Add(3 * time.Minute) // hang guard
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		st := strings.TrimSpace(r.mustDocker(t, "inspect", "--format", "{{if .Config.Healthcheck}}{{print .State.Health.Status}}{{end}}", svc))
		if st == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := r.docker(t, "logs", "--details", svc)
			t.Fatalf("service not healthy: %q\n%s", st, logs)
		}
		time.Sleep(delay)
	}
	// 9.
	// (busybox has no /etc/*release: exit 1, and the runner goes on)
	if out, code := r.docker(t, "exec", id, "sh", "-c", "cat /etc/*release | grep ^ID"); code != 0 && code != 1 {
		t.Fatalf("exec: %d %s", code, out)
	}

	// 10: steps, scripts written on the HOST, run with exec -i.
	step := func(name, script string, env ...string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dirs["temp"], name+".sh"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"exec", "-i", "--workdir", "/__w/repo/repo"}
		for _, kv := range env {
			args = append(args, "-e", kv)
		}
		out, errOut, code := awsDocker(t, r, "", append(args, id, "sh", "-e", "/__w/_temp/"+name+".sh")...)
		if code != 0 {
			t.Fatalf("step %s: exit %d: %s%s", name, code, out, errOut)
		}
		return out
	}
	fc := "/__w/_temp/_runner_file_commands"
	if out := step("s1", "mkdir -p "+fc+"\necho checked-out > /__w/repo/repo/README\necho step-one\n"); out != "step-one\n" {
		t.Fatalf("step 1: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(dirs["work"], "repo", "repo", "README")); err != nil || string(b) != "checked-out\n" {
		t.Fatalf("the step's file on the host: %q %v", b, err)
	}
	// The job reaches the service by its alias; the name may take a moment
	// to appear (the job started first), as a real job waits for it.
	out := step("s2", `i=0
until v=$(wget -qO- http://postgres:5432/ready); do i=$((i+1)); [ $i -lt 150 ] || exit 9; sleep 0.2; done
echo "db=$v" >> "$GITHUB_OUTPUT"
echo reached
`, "GITHUB_OUTPUT="+fc+"/set_output_1")
	if out != "reached\n" {
		t.Fatalf("step 2: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(dirs["temp"], "_runner_file_commands", "set_output_1")); err != nil || string(b) != "db=pg-ready\n" {
		t.Fatalf("$GITHUB_OUTPUT on the host: %q %v", b, err)
	}

	// 11: a container action.
	aid := strings.TrimSpace(r.mustDocker(t, "create", "--name", "action", "--label", lbl, "--workdir", "/github/workspace",
		"--network", net, "-v", sock+":/var/run/docker.sock", "-v", dirs["home"]+":/github/home", "-v", dirs["workflow"]+":/github/workflow",
		"-v", dirs["temp"]+"/_runner_file_commands:/github/file_commands", "-v", dirs["work"]+"/repo/repo:/github/workspace",
		img, "sh", "-c", "echo action-ran; cat README; echo from-action > result.txt"))
	r.mustDocker(t, "start", aid)
	if out := r.mustDocker(t, "logs", "--follow", aid); out != "action-ran\nchecked-out\n" {
		t.Fatalf("action logs: %q", out)
	}
	if code := strings.TrimSpace(r.mustDocker(t, "wait", aid)); code != "0" {
		t.Fatalf("action exit %s", code)
	}
	if b, err := os.ReadFile(filepath.Join(dirs["work"], "repo", "repo", "result.txt")); err != nil || string(b) != "from-action\n" {
		t.Fatalf("the action's output on the host: %q %v", b, err)
	}
	r.mustDocker(t, "rm", aid)

	// 12: clean-up.
	r.mustDocker(t, "rm", "--force", id, svc)
	r.mustDocker(t, "network", "rm", net)
}
