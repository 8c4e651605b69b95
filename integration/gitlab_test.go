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

	"github.com/sockerless/sockerless/internal/embedded"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestGitlabCILocal runs a three-stage pipeline with gitlab-ci-local
// 4.70 (npm devDependency) and its docker executor against the embedded
// memory provider. gitlab-ci-local drives the docker CLI: volume create,
// a helper container that chowns and chmods the build volume, docker cp
// of the project in, `create --interactive` of a shell that probes for
// bash by path, `start --attach -i` with the script on stdin, and a
// helper that collects artifacts with rsync into a container it copies
// out of. The test asserts the pipeline's result and every job's output.
func TestGitlabCILocal(t *testing.T) {
	gcl := gitlabCILocal(t)
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})

	repo, home := t.TempDir(), t.TempDir()
	for src, dst := range map[string]string{"gitlab-ci.yml": ".gitlab-ci.yml", "input.txt": "input.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "gitlab", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := gitlabEnv(s.dockerHost, s.configDir, home)
	commitRepo(t, repo, env)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Artifacts reach the test job only through the containers (not
	// copied back into the project directory first).
	cmd := exec.CommandContext(ctx, gcl, "--no-artifacts-to-source")
	cmd.Dir, cmd.Env = repo, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	all := out.String()
	if ctx.Err() != nil {
		t.Fatalf("gitlab-ci-local timed out; output:\n%s", all)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gitlab-ci-local: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("gitlab-ci-local output:\n%s", all)
		}
	}()
	if code != 1 {
		t.Errorf("gitlab-ci-local exit %d, want 1 (a job failed)", code)
	}

	// Each job's script output: "JOB > line".
	jobOut := gitlabJobLines(all)
	// Each line is a regexp the job's output line must match, in order.
	want := map[string][]string{
		"build": {`^building with global and job in /builds/\S+$`, `^entries=6$`},
		"test":  {`^artifact-content$`, `^INPUT-LINE$`, `^only artifacts arrived$`},
		"fails": {`^about to fail$`},
	}
	checkJobLines(t, jobOut, want)
	if _, ok := jobOut["deploy"]; ok || strings.Contains(all, "deploy ran") || strings.Contains(all, "after exit") {
		t.Errorf("a line that must not run ran")
	}
	for _, l := range []string{`(?m)^ PASS\s+build\s*$`, `(?m)^ PASS\s+test\s*$`, `(?m)^ FAIL\s+fails\s*$`, `(?m)^fails\s+finished in .* FAIL 4\s*$`, `build\s+exported artifacts`} {
		if !regexp.MustCompile(l).MatchString(all) {
			t.Errorf("output lacks %s", l)
		}
	}
	if strings.Contains(all, "no artifacts was copied") {
		t.Errorf("the build job's artifacts were not collected")
	}
	// gitlab-ci-local removes its containers and volumes.
	if o, _ := s.docker(t, "", "ps", "-aq"); strings.TrimSpace(o) != "" {
		t.Errorf("containers left: %s", o)
	}
}

// gitlabCILocal returns the path of the gitlab-ci-local binary the
// project's npm dependencies install, failing t when it or a tool it
// drives is missing.
func gitlabCILocal(t *testing.T) string {
	t.Helper()
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	gcl := filepath.Join(root, "node_modules", ".bin", "gitlab-ci-local")
	if !isExecutable(gcl) {
		t.Fatalf("gitlab-ci-local not found at %s: run .ci/tools.sh (npm ci)", gcl)
	}
	for _, tool := range []string{"node", "git", "rsync", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("gitlab-ci-local needs %s on PATH (.ci/tools.sh installs it): %v", tool, err)
		}
	}
	return gcl
}

// gitlabEnv is gitlab-ci-local's environment: the docker CLI aimed at
// dockerHost with its configuration in configDir, HOME at home, a git
// identity and no colours in the output the tests read.
func gitlabEnv(dockerHost, configDir, home string) []string {
	return append(os.Environ(), "DOCKER_HOST="+dockerHost, "DOCKER_CONFIG="+configDir, "HOME="+home,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "NO_COLOR=1", "FORCE_COLOR=0")
}

// commitRepo makes repo a git repository with everything in it committed,
// as gitlab-ci-local reads the project from git.
func commitRepo(t *testing.T, repo string, env []string) {
	t.Helper()
	for _, argv := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "pipeline"}} {
		cmd := exec.Command("git", argv...)
		cmd.Dir, cmd.Env = repo, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", argv, err, out)
		}
	}
}

// gitlabJobLines is each job's script output in gitlab-ci-local's output
// ("JOB > line"), without its own "still running..." notes.
func gitlabJobLines(all string) map[string][]string {
	jobOut := map[string][]string{}
	re := regexp.MustCompile(`(?m)^(\w+)\s+> (.*)$`)
	for _, m := range re.FindAllStringSubmatch(all, -1) {
		if l := strings.TrimRight(m[2], " \r"); l != "still running..." { // gitlab-ci-local's own note after 10 s of silence
			jobOut[m[1]] = append(jobOut[m[1]], l)
		}
	}
	return jobOut
}

// checkJobLines fails t unless each job in want printed exactly its
// lines, each matching the regexp in the same place.
func checkJobLines(t *testing.T, jobOut, want map[string][]string) {
	t.Helper()
	for job, lines := range want {
		got := jobOut[job]
		ok := len(got) == len(lines)
		for i := 0; ok && i < len(lines); i++ {
			ok = regexp.MustCompile(lines[i]).MatchString(got[i])
		}
		if !ok {
			t.Errorf("job %s printed %q, want %q", job, got, lines)
		}
	}
}
