package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitModeCarriedBindsGitHubPattern replays the GitHub Actions
// runner's container-job pattern against the three split-mode binaries
// (memory provider): the job container binds host folders (`-v
// <work>:/__w`, a read-only `<externals>:/__e`, and a single host file,
// which cannot be carried and is dropped), the runner writes each step's
// script on the HOST after the container started, runs it with `docker
// exec -i … sh -e /__w/_temp/<x>.sh`, and reads `$GITHUB_OUTPUT` back ON
// THE HOST as soon as the exec returns. Nothing resolves the host paths on
// the functions side: the create reaching functions has no bind of a host
// path (inspect shows tmpfs mounts), so every byte the container sees and
// every byte the host gets back was carried through the relay.
func TestSplitModeCarriedBindsGitHubPattern(t *testing.T) {
	e := slSetup(t)
	port := mrFreePort(t)
	mrStart(t, "functions", e.bin+"/sockerless-functions", append(e.functionsEnv(), "PORT="+port, "SOCKERLESS_TOKEN=carry-token")...)
	url := "http://127.0.0.1:" + port
	waitHTTP(t, url+"/_ping", "")
	r := e.shim(t, url, "SOCKERLESS_TOKEN=carry-token")
	r.mustDocker(t, "pull", "alpine:3.20")

	host := t.TempDir()
	work, ext, sock := filepath.Join(host, "_work"), filepath.Join(host, "externals"), filepath.Join(host, "docker.sock")
	write := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(ext, "node", "VERSION"), "20\n")
	write(filepath.Join(work, "_temp", "delete-me"), "x\n")
	write(sock, "")

	r.mustDocker(t, "create", "--name", "job", "--workdir", "/__w/repo",
		"-v", sock+":/var/run/docker.sock", "-v", work+":/__w", "-v", ext+":/__e:ro",
		"-e", "GITHUB_ACTIONS=true", "--entrypoint", "tail", "alpine:3.20", "-f", "/dev/null")
	r.mustDocker(t, "start", "job")

	var info struct {
		HostConfig struct{ Binds []string }
		Mounts     []struct{ Type, Destination string }
	}
	if err := json.Unmarshal([]byte(r.mustDocker(t, "inspect", "--format", "{{json .}}", "job")), &info); err != nil {
		t.Fatal(err)
	}
	for _, b := range info.HostConfig.Binds {
		if strings.HasPrefix(b, host) {
			t.Fatalf("functions received a bind of a host path: %q", b)
		}
	}
	types := map[string]string{}
	for _, m := range info.Mounts {
		types[m.Destination] = m.Type
	}
	if types["/__w"] != "tmpfs" || types["/__e"] != "tmpfs" {
		t.Fatalf("mounts %v: want /__w and /__e as workload-local (tmpfs) mounts", types)
	}

	// Step 1, written on the host after the container started.
	write(filepath.Join(work, "_temp", "step1.sh"), `echo step-ran
mkdir -p /__w/_temp/_runner_file_commands /__w/repo/out
echo "answer=42" >> "$GITHUB_OUTPUT"
cat /__e/node/VERSION
echo built > /__w/repo/out/a.txt
chmod 750 /__w/repo/out/a.txt
ln -s a.txt /__w/repo/out/link
rm /__w/_temp/delete-me
pwd
`)
	out := r.mustDocker(t, "exec", "-i", "-e", "GITHUB_OUTPUT=/__w/_temp/_runner_file_commands/set_output_1", "job", "sh", "-e", "/__w/_temp/step1.sh")
	if out != "step-ran\n20\n/__w/repo\n" {
		t.Fatalf("step 1 printed %q", out)
	}
	// Read back on the host the moment docker exec returned.
	if b, err := os.ReadFile(filepath.Join(work, "_temp", "_runner_file_commands", "set_output_1")); err != nil || string(b) != "answer=42\n" {
		t.Fatalf("$GITHUB_OUTPUT on the host = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(work, "repo", "out", "a.txt")); err != nil || string(b) != "built\n" {
		t.Fatalf("a.txt on the host = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(work, "repo", "out", "a.txt")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("a.txt mode on the host = %v, %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(work, "repo", "out", "link")); err != nil || target != "a.txt" {
		t.Fatalf("link on the host = %q, %v", target, err)
	}
	if _, err := os.Stat(filepath.Join(work, "_temp", "delete-me")); !os.IsNotExist(err) {
		t.Fatalf("delete-me is still on the host: %v", err)
	}

	// Step 2: the host changed the folder between steps (a new script, a
	// removed file, a changed file); the container sees exactly that.
	if err := os.Remove(filepath.Join(work, "repo", "out", "a.txt")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(work, "_temp", "_runner_file_commands", "set_output_1"), "")
	write(filepath.Join(work, "_temp", "step2.sh"), `echo second
test ! -e /__w/repo/out/a.txt && echo a-gone
test -L /__w/repo/out/link && echo link-kept
wc -c < /__w/_temp/_runner_file_commands/set_output_1
echo "more=1" >> /__e/node/VERSION 2>/dev/null || echo ro-refused
`)
	out = r.mustDocker(t, "exec", "job", "sh", "-e", "/__w/_temp/step2.sh")
	if strings.Fields(out)[0] != "second" || !strings.Contains(out, "a-gone\nlink-kept\n0\n") || !strings.HasSuffix(out, "ro-refused\n") {
		t.Fatalf("step 2 printed %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(ext, "node", "VERSION")); string(b) != "20\n" {
		t.Fatalf("the read-only bind changed on the host: %q", b)
	}

	// What a detached process wrote survives the next exec's push (only
	// what changed on the host since the last carry goes to the
	// container) and comes back with that exec's pull.
	r.mustDocker(t, "exec", "-d", "job", "sh", "-c", "echo late > /__w/late.txt")
	for i := 0; ; i++ {
		if _, code := r.docker(t, "exec", "job", "test", "-s", "/__w/late.txt"); code == 0 {
			break
		}
		if i == 200 {
			t.Fatal("the detached exec never wrote /__w/late.txt")
		}
	}
	if b, err := os.ReadFile(filepath.Join(work, "late.txt")); err != nil || string(b) != "late\n" {
		t.Fatalf("late.txt on the host = %q, %v", b, err)
	}
	r.mustDocker(t, "rm", "-f", "job")

	// A container's main process writes into its bind; what it wrote
	// comes back when the container is stopped.
	out2 := filepath.Join(host, "out2")
	r.mustDocker(t, "run", "-d", "--name", "writer", "-v", out2+":/data", "alpine:3.20",
		"sh", "-c", "echo bye > /data/bye.txt && echo written && tail -f /dev/null")
	for i := 0; ; i++ {
		if out, _ := r.docker(t, "logs", "writer"); strings.Contains(out, "written") {
			break
		}
		if i == 200 {
			t.Fatal("the writer never wrote")
		}
	}
	if _, err := os.Stat(filepath.Join(out2, "bye.txt")); !os.IsNotExist(err) {
		t.Fatalf("bye.txt reached the host before any carry: %v", err)
	}
	r.mustDocker(t, "stop", "-t", "1", "writer")
	if b, err := os.ReadFile(filepath.Join(out2, "bye.txt")); err != nil || string(b) != "bye\n" {
		t.Fatalf("bye.txt on the host after stop = %q, %v", b, err)
	}
	r.mustDocker(t, "rm", "writer")

	// A container action (create, start, wait, rm, as the GitHub runner
	// runs `uses: docker://`): what its main process wrote is on the host
	// when docker wait returns.
	ws := filepath.Join(host, "workspace")
	r.mustDocker(t, "create", "--name", "action", "--workdir", "/github/workspace", "-v", ws+":/github/workspace",
		"alpine:3.20", "sh", "-c", "echo from-action > result.txt; exit 3")
	r.mustDocker(t, "start", "action")
	if out := r.mustDocker(t, "wait", "action"); strings.TrimSpace(out) != "3" {
		t.Fatalf("docker wait action = %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "result.txt")); err != nil || string(b) != "from-action\n" {
		t.Fatalf("result.txt on the host when docker wait returned = %q, %v", b, err)
	}
	r.mustDocker(t, "rm", "action")
}
