package docker_test

import (
	"archive/tar"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fidelityCase is a docker CLI sequence and what dockerd 28.2.2 answers
// to its last line (taken from the conformance suite's reference
// transcripts): stdout, stderr (its first line) and exit code. Earlier
// lines must succeed.
type fidelityCase struct {
	name   string
	setup  [][]string
	last   []string
	stdout string
	stderr string
	code   int
}

// TestDockerFidelity runs, on one Sockerless with the docker provider,
// the cases where Sockerless answered otherwise than Docker (error
// wording, listing shapes, defaults). Each case's names are its own.
func TestDockerFidelity(t *testing.T) {
	s := start(t)
	cases := []fidelityCase{
		{name: "kill-bad-signal", setup: [][]string{{"run", "-d", "--name", "k1", "busybox", "sleep", "300"}},
			last: []string{"kill", "-s", "NOSIG", "k1"}, stderr: "Error response from daemon: cannot kill container: k1: invalid signal: NOSIG", code: 1},
		{name: "kill-missing", last: []string{"kill", "nosuch"},
			stderr: "Error response from daemon: cannot kill container: nosuch: No such container: nosuch", code: 1},
		{name: "rm-running", setup: [][]string{{"run", "-d", "--name", "r1", "busybox", "sleep", "300"}},
			last: []string{"rm", "r1"}, stderr: `Error response from daemon: cannot remove container "r1": container is running: stop the container before removing or force remove`, code: 1},
		{name: "unpause-not-paused", setup: [][]string{{"run", "-d", "--name", "u1", "busybox", "sleep", "300"}},
			last: []string{"unpause", "u1"}, stderr: "Error response from daemon: Container <id:u1> is not paused", code: 1},
		{name: "rename-conflict", setup: [][]string{{"create", "--name", "n1", "busybox"}, {"create", "--name", "n2", "busybox"}},
			last: []string{"rename", "n1", "n2"}, stderr: `Error response from daemon: Error when allocating new name: Conflict. The container name "/n2" is already in use by container "<id:n2>". You have to remove (or rename) that container to be able to reuse that name.`, code: 1},
		{name: "ps-filter-status-bad", last: []string{"ps", "--filter", "status=sleeping"},
			stderr: "Error response from daemon: invalid filter 'status=sleeping': invalid value for state (sleeping): must be one of created, running, paused, restarting, removing, exited, dead", code: 1},
		{name: "ps-command-quoting", setup: [][]string{{"create", "--name", "q1", "busybox", "sh", "-c", "exit 1"}},
			last: []string{"ps", "-a", "--no-trunc", "--filter", "name=q1", "--format", "{{.Command}}"}, stdout: `"sh -c 'exit 1'"` + "\n"},
		{name: "config-env-order", setup: [][]string{{"create", "--name", "e1", "-e", "A=1", "busybox"}},
			last: []string{"inspect", "-f", "{{json .Config.Env}}", "e1"}, stdout: `["A=1","PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]` + "\n"},
		{name: "info-architecture", last: []string{"info", "--format", "{{.OSType}} {{.Architecture}}"}, stdout: "linux x86_64\n"},
		{name: "exec-user-unknown", setup: [][]string{{"run", "-d", "--name", "x1", "busybox", "sleep", "300"}},
			last: []string{"exec", "-u", "nosuch", "x1", "id"}, stderr: "Error response from daemon: unable to find user nosuch: no matching entries in passwd file", code: 1},
		{name: "exec-user-known", setup: [][]string{{"run", "-d", "--name", "x2", "busybox", "sleep", "300"}},
			last: []string{"exec", "-u", "nobody", "x2", "id", "-un"}, stdout: "nobody\n"},
		{name: "run-user-unknown", last: []string{"run", "--rm", "-u", "nosuchuser", "busybox", "id"},
			stderr: "docker: Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file", code: 125},
		{name: "run-command-not-found", last: []string{"run", "--rm", "busybox", "nosuchcommand"},
			stderr: `docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuchcommand": executable file not found in $PATH: unknown`, code: 127},
		{name: "run-command-not-executable", last: []string{"run", "--rm", "busybox", "/etc/passwd"},
			stderr: `docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown`, code: 126},
		{name: "exec-not-found", setup: [][]string{{"run", "-d", "--name", "x3", "busybox", "sleep", "300"}},
			last: []string{"exec", "x3", "nosuchcmd"}, stdout: "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown\r\n", code: 127},
		{name: "network-none", last: []string{"run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net | sort; exit 3"},
			stdout: "lo\n", code: 3},
		{name: "network-none-exec", setup: [][]string{{"run", "-d", "--network", "none", "--name", "nn", "busybox", "sleep", "300"}},
			last: []string{"exec", "nn", "ls", "/sys/class/net"}, stdout: "lo\n"},
		{name: "logs-details", setup: [][]string{{"run", "--name", "l1", "busybox", "echo", "one"}},
			last: []string{"logs", "--details", "l1"}, stdout: " one\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, line := range tc.setup {
				s.ok(t, line...)
			}
			out, errOut, code := s.docker(t, "", tc.last...)
			want := s.expandIDs(t, tc.stderr)
			// Sockerless adds no words of its own to Docker's.
			if first, _, _ := strings.Cut(errOut, "\n"); first != want || out != tc.stdout || code != tc.code || strings.Contains(errOut, "sockerless") {
				t.Errorf("docker %s:\n got stdout %q, stderr %q, exit %d\nwant stdout %q, stderr %q, exit %d",
					strings.Join(tc.last, " "), out, errOut, code, tc.stdout, want, tc.code)
			}
		})
	}
}

// expandIDs replaces each <id:NAME> in s with container NAME's full id.
func (s *sockerless) expandIDs(t *testing.T, text string) string {
	t.Helper()
	for {
		i := strings.Index(text, "<id:")
		if i < 0 {
			return text
		}
		j := strings.Index(text[i:], ">")
		name := text[i+4 : i+j]
		id := strings.TrimSpace(s.ok(t, "inspect", "-f", "{{.Id}}", name))
		text = text[:i] + id + text[i+j+1:]
	}
}

// TestBuildOnEngine: docker build on the docker provider is the engine's
// classic build (RUN steps run on the engine), and the image runs; a
// failing RUN step fails the build with Docker's message and code.
func TestBuildOnEngine(t *testing.T) {
	s := start(t)
	t.Setenv("DOCKER_BUILDKIT", "0")
	dir := func(dockerfile string) string {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	s.ok(t, "build", "-q", "-t", "built:1", dir("FROM busybox\nENV X=1\nRUN echo made > /made\nCMD [\"sh\",\"-c\",\"echo $X; cat /made\"]\n"))
	if out := s.ok(t, "run", "--rm", "built:1"); out != "1\nmade\n" {
		t.Errorf("run built:1 = %q, want %q", out, "1\nmade\n")
	}
	if out := s.ok(t, "image", "inspect", "-f", "{{json .Config.Cmd}}", "built:1"); out != `["sh","-c","echo $X; cat /made"]`+"\n" {
		t.Errorf("built:1 Cmd = %q", out)
	}
	_, errOut, code := s.docker(t, "", "build", "-q", dir("FROM busybox\nRUN exit 3\n"))
	if want := "The command '/bin/sh -c exit 3' returned a non-zero code: 3"; code != 3 || !strings.Contains(errOut, want) {
		t.Errorf("failing build: exit %d, stderr %q; want exit 3 (the step's, as the CLI exits) and %q", code, errOut, want)
	}
}

// TestFilesystemOnEngine: docker diff, export and commit on the docker
// provider are the engine's, without the agent's mount point, as
// dockerd 28.2.2 answers them for the same container.
func TestFilesystemOnEngine(t *testing.T) {
	s := start(t)
	s.ok(t, "create", "--name", "fresh", "busybox")
	if out := s.ok(t, "diff", "fresh"); out != "" {
		t.Errorf("diff of a created container = %q, want nothing", out)
	}
	s.ok(t, "run", "--name", "fs1", "busybox", "sh", "-c", "touch /tmp/new; echo x > /marker")
	// The engine lists changes in its map's order, which varies run to
	// run, so the lines are compared as a set.
	lines := strings.Split(strings.TrimSpace(s.ok(t, "diff", "fs1")), "\n")
	slices.Sort(lines)
	if got, want := strings.Join(lines, "\n"), "A /marker\nA /tmp/new\nC /tmp"; got != want {
		t.Errorf("diff lines (sorted) = %q, want %q", got, want)
	}
	var names []string
	cmd := exec.Command("bash", "-c", "docker export fs1 | tar -t")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	for _, n := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if n == "marker" || strings.HasPrefix(n, ".sockerless") {
			names = append(names, n)
		}
	}
	if strings.Join(names, ",") != "marker" {
		t.Errorf("export lists %v of marker and the agent's entries, want only marker", names)
	}
	if id := s.ok(t, "commit", "fs1", "committed:1"); !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit answered %q", id)
	}
	if out := s.ok(t, "run", "--rm", "committed:1", "cat", "/marker"); out != "x\n" {
		t.Errorf("run committed:1 cat /marker = %q", out)
	}
	if out := s.ok(t, "image", "inspect", "-f", "{{json .Config.Cmd}}", "committed:1"); out != `["sh","-c","touch /tmp/new; echo x > /marker"]`+"\n" {
		t.Errorf("committed:1 Cmd = %q", out)
	}
}

// TestArchiveOnEngine: docker cp of a container that is not running (no
// agent to ask) is served by the engine's archive endpoints, as Docker
// serves it; a missing path of a running one is worded as Docker words
// it.
func TestArchiveOnEngine(t *testing.T) {
	s := start(t)
	s.ok(t, "create", "--name", "idle", "busybox", "cat", "/tmp/in")
	cmd := exec.Command("bash", "-c", "docker cp idle:/etc/passwd - | tar -t")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "passwd\n" {
		t.Errorf("cp out of a created container: %v %q, want passwd", err, out)
	}
	src := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(src, []byte("copied\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok(t, "cp", src, "idle:/tmp/in")
	if out := s.ok(t, "start", "-a", "idle"); out != "copied\n" {
		t.Errorf("start -a after cp in = %q", out)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", strings.TrimPrefix(s.host, "unix://"))
	}}}
	req, _ := http.NewRequest(http.MethodPut, "http://d/v1.50/containers/idle/archive?path=/tmp", strings.NewReader("not a tar"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || strings.TrimSpace(string(body)) != `{"message":"unexpected EOF"}` {
		t.Errorf("PUT of a non-tar = %d %s, want Docker's 500 {\"message\":\"unexpected EOF\"}", resp.StatusCode, body)
	}
	s.ok(t, "run", "-d", "--name", "busy", "busybox", "sleep", "300")
	_, errOut, code := s.docker(t, "", "cp", "busy:/nosuch", "-")
	if want := "Error response from daemon: Could not find the file /nosuch in container busy\n"; errOut != want || code != 1 {
		t.Errorf("cp of a missing path: exit %d %q, want 1 %q", code, errOut, want)
	}
}

// TestHomeOfUser: a workload whose environment sets no HOME gets its
// user's home folder from /etc/passwd, as runc gives it, in its main
// process and its execs; a HOME the container sets is kept.
func TestHomeOfUser(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "-u", "nobody", "busybox", "sh", "-c", "echo $HOME"}, "/home\n"},
		{[]string{"run", "--rm", "busybox", "sh", "-c", "echo $HOME"}, "/root\n"},
		{[]string{"run", "--rm", "-u", "4242", "busybox", "sh", "-c", "echo $HOME"}, "/\n"},
		{[]string{"run", "--rm", "-u", "nobody", "-e", "HOME=/mine", "busybox", "sh", "-c", "echo $HOME"}, "/mine\n"},
	} {
		if out := s.ok(t, tc.args...); out != tc.want {
			t.Errorf("docker %s = %q, want %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	s.ok(t, "run", "-d", "--name", "h1", "busybox", "sleep", "300")
	if out := s.ok(t, "exec", "h1", "sh", "-c", "echo $HOME"); out != "/root\n" {
		t.Errorf("exec as root: HOME = %q, want /root", out)
	}
	if out := s.ok(t, "exec", "-u", "nobody", "h1", "sh", "-c", "echo $HOME"); out != "/home\n" {
		t.Errorf("exec as nobody: HOME = %q, want /home", out)
	}
}

// TestStorageDriverIsTheEngines: inspect's Driver and GraphDriver name
// the engine's storage driver, which holds the container's files.
func TestStorageDriverIsTheEngines(t *testing.T) {
	s := start(t)
	cmd := exec.Command("docker", "-H", s.eng.Host, "info", "-f", "{{.Driver}}")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+s.config)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	driver := strings.TrimSpace(string(b))
	s.ok(t, "create", "--name", "sd", "busybox")
	if out, want := s.ok(t, "inspect", "-f", "{{.Driver}} {{.GraphDriver.Name}} {{.Platform}}", "sd"), driver+" "+driver+" linux\n"; out != want {
		t.Errorf("inspect = %q, want %q", out, want)
	}
}

// TestSaveFromEngine: docker save on the docker provider writes a
// docker-archive of the engine's layers with Sockerless's configuration
// and tags, which an engine loads and runs.
func TestSaveFromEngine(t *testing.T) {
	s := start(t)
	s.ok(t, "run", "--name", "sv", "busybox", "sh", "-c", "echo saved > /marker")
	s.ok(t, "commit", "sv", "saved:1")
	archive := filepath.Join(t.TempDir(), "img.tar")
	s.ok(t, "save", "-o", archive, "saved:1")
	// The engine loads it as Docker's own save would be loaded.
	cmd := exec.Command("docker", "-H", s.eng.Host, "load", "-i", archive)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+s.config)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Loaded image: saved:1") {
		t.Fatalf("engine load: %v %s", err, out)
	}
	cmd = exec.Command("docker", "-H", s.eng.Host, "run", "--rm", "saved:1", "cat", "/marker")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+s.config)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "saved\n" {
		t.Errorf("engine run of the loaded image: %v %q", err, out)
	}
	cmd = exec.Command("docker", "-H", s.eng.Host, "rmi", "saved:1")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+s.config)
	_ = cmd.Run()
}

// TestCopyRootOfRunning: docker cp of "/" of a running workload is a
// whole archive, as Docker's: busybox's further names of one file are
// hard links, /proc is an empty folder, and the agent's mount point is
// not there.
func TestCopyRootOfRunning(t *testing.T) {
	s := start(t)
	s.ok(t, "run", "-d", "--name", "root1", "busybox", "sleep", "300")
	cmd := exec.Command("docker", "cp", "root1:/", "-")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.host, "DOCKER_CONFIG="+s.config)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	links, proc, agent, passwd := 0, 0, 0, false
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		switch {
		case h.Typeflag == tar.TypeLink:
			links++
		case strings.HasPrefix(h.Name, "/proc/") && h.Name != "/proc/":
			proc++
		case strings.HasPrefix(h.Name, "/.sockerless"):
			agent++
		case h.Name == "/etc/passwd":
			passwd = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker cp: %v", err)
	}
	if links == 0 || proc != 0 || agent != 0 || !passwd {
		t.Errorf("archive of /: %d hard links, %d entries under /proc, %d of the agent, /etc/passwd %v; want hard links, none under /proc, none of the agent, /etc/passwd", links, proc, agent, passwd)
	}
}

// TestStartAttachAgain: docker start -a right after the previous run of
// the same container ended (GitLab Runner's helper reuse) attaches to
// the new run, never to the previous run's closing agent link, which
// used to hang it now and then.
func TestStartAttachAgain(t *testing.T) {
	s := start(t)
	s.ok(t, "create", "--name", "helper", "busybox", "sh", "-c", "echo run")
	for i := range 6 {
		if out := s.ok(t, "start", "-a", "helper"); out != "run\n" {
			t.Fatalf("start -a #%d = %q, want %q", i+1, out, "run\n")
		}
	}
	if out := s.ok(t, "logs", "helper"); out != strings.Repeat("run\n", 6) {
		t.Errorf("logs = %q, want six runs' lines", out)
	}
}

// TestCommitChangesHealthcheckOnbuild: docker commit --change takes
// HEALTHCHECK and ONBUILD as Docker does (they answered 501).
func TestCommitChangesHealthcheckOnbuild(t *testing.T) {
	s := start(t)
	s.ok(t, "create", "--name", "cc", "busybox")
	s.ok(t, "commit", "--change", "HEALTHCHECK --interval=5s --retries=2 CMD true", "--change", "ONBUILD RUN echo hi", "cc", "changed:1")
	want := `{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2} ["RUN echo hi"]` + "\n"
	if out := s.ok(t, "image", "inspect", "-f", "{{json .Config.Healthcheck}} {{json .Config.OnBuild}}", "changed:1"); out != want {
		t.Errorf("committed config = %q, want %q", out, want)
	}
	s.ok(t, "commit", "--change", "HEALTHCHECK NONE", "cc", "changed:2")
	if out := s.ok(t, "image", "inspect", "-f", "{{json .Config.Healthcheck}}", "changed:2"); out != `{"Test":["NONE"]}`+"\n" {
		t.Errorf("HEALTHCHECK NONE: %q", out)
	}
}
