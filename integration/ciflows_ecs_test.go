package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sockerless/sockerless/integration/localcloud/awscloud"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

// ciImages are the local registry's images the CI tools run on through
// the ECS provider, all from one Debian bookworm root with nodejs and
// rsync (no public registry is reachable): node, the job image (bash,
// node, rsync: also gitlab-ci-local's helper); web, a node HTTP server on
// 8080 answering "$GREETING at <path>" and a newline; wait, a stand-in for
// gitlab-ci-local's wait image (sumina46/wait-for-it: `HOST:PORT -t
// SECONDS`, exit 0 once the port accepts a connection).
type ciImages struct{ node, web, wait string }

// webServer is the web image's program.
const webServer = `const http = require('http');
http.createServer((req, res) => res.end(process.env.GREETING + ' at ' + req.url + '\n')).listen(8080);
`

// waitForIt is the wait image's entry point: wait-for-it's command line,
// with bash's /dev/tcp.
const waitForIt = `#!/bin/bash
hostport=$1; shift
timeout=15
while [ $# -gt 0 ]; do
  case $1 in
    -t) timeout=$2; shift 2 ;;
    --timeout=*) timeout=${1#*=}; shift ;;
    *) shift ;;
  esac
done
host=${hostport%:*} port=${hostport##*:}
end=$((SECONDS + timeout))
until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
  if [ "$timeout" -gt 0 ] && [ "$SECONDS" -ge "$end" ]; then
    echo "wait-for-it: timeout after ${timeout}s waiting for $host:$port" >&2
    exit 1
  fi
  sleep 0.5
done
echo "wait-for-it: $host:$port is available after $((SECONDS - end + timeout)) seconds"
`

// pushCIImages pushes the ciImages to cloud's registry.
func pushCIImages(t *testing.T, cloud *awscloud.Cloud) ciImages {
	t.Helper()
	ctx := context.Background()
	began := time.Now()
	pkgs := []string{"nodejs", "rsync"}
	path := "PATH=" + dockerengine.DefaultPath
	var imgs ciImages
	for _, im := range []struct {
		ref *string
		img awscloud.DebianImage
	}{
		{&imgs.node, awscloud.DebianImage{Name: "node:bookworm", Packages: pkgs, Config: v1.Config{Env: []string{path}, Cmd: []string{"bash"}}}},
		{&imgs.web, awscloud.DebianImage{Name: "web:bookworm", Packages: pkgs, Files: map[string]string{"srv/server.js": webServer},
			Config: v1.Config{Env: []string{path}, Cmd: []string{"node", "/srv/server.js"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}}}}},
		{&imgs.wait, awscloud.DebianImage{Name: "wait-for-it:bookworm", Packages: pkgs, Files: map[string]string{"usr/local/bin/wait-for-it": waitForIt},
			Config: v1.Config{Env: []string{path}, Entrypoint: []string{"wait-for-it"}}}},
	} {
		ref, err := cloud.PushDebian(ctx, im.img)
		if err != nil {
			t.Fatal(err)
		}
		*im.ref = ref
	}
	t.Logf("images pushed in %v", time.Since(began).Round(time.Millisecond))
	return imgs
}

// TestActECS runs a workflow with act through the ECS provider and the
// local AWS: the job (on the Debian image with nodejs) and its service
// are Fargate tasks of their own. It covers a JavaScript action from the
// repository (inputs, an output, $GITHUB_ENV), $GITHUB_ENV between a bash
// and a node step, node steps (`shell: node {0}`), the checked-out
// workspace, and the service reached by its name from a node step.
func TestActECS(t *testing.T) {
	cloud, e, url := startECSCloud(t)
	imgs := pushCIImages(t, cloud)
	r := e.shim(t, url, "SOCKERLESS_TOKEN=gh-token")
	for _, img := range []string{imgs.node, imgs.web} {
		r.mustDocker(t, "pull", img)
	}
	repo, home := t.TempDir(), t.TempDir()
	copyTree(t, "testdata/act/ecs", repo)
	wf := filepath.Join(repo, ".github", "workflows", "ecs.yml")
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wf, bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("WEB_IMAGE"), []byte(imgs.web)), []byte("NODE_IMAGE"), []byte(imgs.node)), 0o644); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	jobs, all, code := actRunOn(t, "unix://"+r.sock, imgs.node, 8*time.Minute, repo, home, "-W", ".github/workflows/ecs.yml")
	t.Logf("act ran the workflow in %v", time.Since(began).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("act exit %d, want 0; output:\n%s", code, all)
	}
	want := []string{
		"js action for ecs on node>=18: true",
		"output=hello ecs env=set-by-js-action",
		"node sees from-bash-step and set-by-js-action",
		"data: line-from-checkout",
		"web said: hello-from-service at /",
	}
	got := trimAll(stepOutput(jobs["node"]))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("job node printed\n%q\nwant\n%q", got, want)
	}
	if !containsLine(jobs["node"], "🏁  Job succeeded") {
		t.Errorf("job node did not succeed")
	}
	if t.Failed() {
		t.Logf("act output:\n%s", all)
	}
	// With --rm act removes its job and service containers.
	if out := strings.TrimSpace(r.mustDocker(t, "ps", "-aq")); out != "" {
		t.Errorf("containers left after act --rm: %s", out)
	}
}

// TestGitlabCILocalECS runs a two-stage pipeline with gitlab-ci-local's
// docker executor through the ECS provider and the local AWS: every
// container (the helper that prepares the build volume, the jobs, the
// service, the wait-for-it probe, the helper that collects artifacts) is
// a Fargate task of its own. The build job's artifact is copied out of
// its collecting helper after that exited (the task stays to serve its
// files: providers.ExitedFiles) and into the test job's container.
// gitlab-ci-local copies the project into its created helper's build
// volume and each job's script into the created job container (/gcl-cmd)
// before they start, which the shim serves on the carried volume and by
// staging the upload for the start; the test job reaches its service by
// alias once the probe found it.
func TestGitlabCILocalECS(t *testing.T) {
	gcl := gitlabCILocal(t)
	cloud, e, url := startECSCloud(t)
	imgs := pushCIImages(t, cloud)
	vols := t.TempDir()
	r := e.shim(t, url, "SOCKERLESS_TOKEN=gh-token", "SOCKERLESS_VOLUME_DIR="+vols)

	repo, home := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "gitlab", "ecs-gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("JOB_IMAGE"), []byte(imgs.node)), []byte("WEB_IMAGE"), []byte(imgs.web))
	if err := os.WriteFile(filepath.Join(repo, ".gitlab-ci.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(filepath.Join("testdata", "gitlab", "input.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "input.txt"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := gitlabEnv("unix://"+r.sock, r.cfg, home)
	commitRepo(t, repo, env)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // hang guard
	defer cancel()
	began := time.Now()
	// Artifacts reach the test job only through the containers (not
	// copied back into the project directory first).
	cmd := exec.CommandContext(ctx, gcl, "--helper-image", imgs.node, "--wait-image", imgs.wait,
		"--wait-for-services-timeout", "300", "--no-artifacts-to-source")
	cmd.Dir, cmd.Env = repo, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	all := out.String()
	t.Logf("gitlab-ci-local ran the pipeline in %v", time.Since(began).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("gitlab-ci-local timed out; output:\n%s", all)
	}
	defer func() {
		if t.Failed() {
			t.Logf("gitlab-ci-local output:\n%s", all)
		}
	}()
	if err != nil {
		t.Errorf("gitlab-ci-local: %v, want success", err)
	}
	jobOut := gitlabJobLines(all)
	want := map[string][]string{
		"build": {`^building with global in /builds/\S+$`, `^INPUT-LINE$`, `^made by node 42$`},
		"test":  {`^hello-from-gitlab-service at /$`, `^project here too$`, `^artifact from build$`},
	}
	checkJobLines(t, jobOut, want)
	for _, l := range []string{`(?m)^ PASS\s+build\s*$`, `(?m)^ PASS\s+test\s*$`, `test\s+service image: \S+ healthcheck passed`, `build\s+exported artifacts`} {
		if !regexp.MustCompile(l).MatchString(all) {
			t.Errorf("output lacks %s", l)
		}
	}
	if strings.Contains(all, "no artifacts was copied") {
		t.Errorf("the build job's artifacts were not collected")
	}
	// gitlab-ci-local removes its containers and volumes.
	if o := strings.TrimSpace(r.mustDocker(t, "ps", "-aq")); o != "" {
		t.Errorf("containers left: %s", o)
	}
	if o := strings.TrimSpace(r.mustDocker(t, "volume", "ls", "-q")); o != "" {
		t.Errorf("volumes left: %s", o)
	}
}
