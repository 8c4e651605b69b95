package integration

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sockerless/sockerless/internal/embedded"
)

// goTool finds a binary `go install`ed by .ci/tools.sh: in GOBIN or
// GOPATH/bin (where the pinned version goes), else on PATH. It fails the
// test when the tool is missing.
func goTool(t testing.TB, name string) string {
	t.Helper()
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil || strings.TrimSpace(string(out)) == "" {
			continue
		}
		dir := strings.TrimSpace(string(out))
		if v == "GOPATH" {
			dir = filepath.Join(strings.Split(dir, string(os.PathListSeparator))[0], "bin")
		}
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in GOBIN, GOPATH/bin or on PATH: run .ci/tools.sh (make tools)", name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// copyTree copies the directory src to dst, keeping the x bits.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// actRun runs act in repo against s and returns its output, split by
// job, and its exit code.
func actRun(t *testing.T, s *server, repo, home string, args ...string) (map[string][]string, string, int) {
	t.Helper()
	return actRunOn(t, s.dockerHost, "alpine:3.20", 3*time.Minute, repo, home, args...)
}

// actRunOn is actRun against the daemon at host, with image standing in
// for ubuntu-latest and a hang guard of limit.
func actRunOn(t *testing.T, host, image string, limit time.Duration, repo, home string, args ...string) (map[string][]string, string, int) {
	t.Helper()
	act := goTool(t, "act")
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append([]string{"push", "--pull=false", "-P", "ubuntu-latest=" + image, "--no-cache-server", "--rm"}, args...)
	cmd := exec.CommandContext(ctx, act, argv...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host, "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("act %v: %v", argv, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("act %v timed out; output:\n%s", argv, out.String())
	}
	jobs := map[string][]string{}
	line := regexp.MustCompile(`^\[[^/\]]+/(\S+?)\s*\] (.*)$`)
	for _, l := range strings.Split(out.String(), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			jobs[m[1]] = append(jobs[m[1]], strings.TrimSpace(m[2]))
		}
	}
	return jobs, out.String(), code
}

// stepOutput is what a job's steps printed (act's "| " lines), in order.
func stepOutput(lines []string) []string {
	var out []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "| "); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestAct runs real workflows with act against the embedded memory
// provider: run steps under bash -e and sh -e, env at workflow, job and
// step level, $GITHUB_ENV, $GITHUB_OUTPUT (to a later step and, through
// job outputs, to another job), $GITHUB_PATH, the checked-out workspace
// (copied in with CopyToContainer), working-directory, a container: job,
// and a failing step that fails the job and skips the steps after it.
func TestAct(t *testing.T) {
	s := startServer(t, embedded.Options{StateDir: t.TempDir(), CacheDir: filepath.Join(os.TempDir(), "sockerless-test-wazero")})
	if out, rc := s.docker(t, "", "pull", "alpine:3.20"); rc != 0 {
		t.Fatalf("pull: %s", out)
	}
	repo := t.TempDir()
	copyTree(t, "testdata/act/repo", repo)
	home := t.TempDir()

	t.Run("passing", func(t *testing.T) {
		jobs, all, code := actRun(t, s, repo, home, "-W", ".github/workflows/ci.yml")
		if code != 0 {
			t.Fatalf("act exit %d, want 0; output:\n%s", code, all)
		}
		want := map[string][]string{
			"steps": {
				"greeting=hello job=jobval",
				"from-env=persisted value step=42",
				"multi=2",
				"from-path-tool",
				"data-line",
				"tool says arg1",
				"5 4",
				"sha=ba7816bf8f01",
				"dir=scripts files=tool.sh",
			},
			"after":       {"needs-answer=42"},
			"incontainer": {"in-container cvar=cval uid=0", "x-is-set"},
		}
		for job, lines := range want {
			got := stepOutput(jobs[job])
			if strings.Join(trimAll(got), "\n") != strings.Join(lines, "\n") {
				t.Errorf("job %s printed\n%q\nwant\n%q", job, got, lines)
			}
			if !containsLine(jobs[job], "🏁  Job succeeded") {
				t.Errorf("job %s did not succeed:\n%s", job, strings.Join(jobs[job], "\n"))
			}
		}
		if t.Failed() {
			t.Logf("act output:\n%s", all)
		}
	})

	t.Run("failing", func(t *testing.T) {
		jobs, all, code := actRun(t, s, repo, home, "-W", ".github/workflows/failing.yml")
		if code == 0 {
			t.Fatalf("act exit 0 for a failing job; output:\n%s", all)
		}
		got := stepOutput(jobs["failing"])
		want := []string{"before-failure", "failing-now", "failure-handler-ran"}
		if strings.Join(trimAll(got), "\n") != strings.Join(want, "\n") {
			t.Errorf("job failing printed %q, want %q", got, want)
		}
		if !containsLine(jobs["failing"], "exitcode '1': failure") || !containsLine(jobs["failing"], "🏁  Job failed") {
			t.Errorf("job failing did not fail with exit code 1")
		}
		if !strings.Contains(all, "Job 'failing' failed") {
			t.Errorf("act did not report the failed job")
		}
		if t.Failed() {
			t.Logf("act output:\n%s", all)
		}
	})

	// With --rm act stops and removes its job containers, failed or not.
	if out, _ := s.docker(t, "", "ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after act --rm: %s", out)
	}
}

func trimAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}
