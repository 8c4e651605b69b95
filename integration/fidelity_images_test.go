package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

// engineDocker runs the docker CLI against the reference engine and
// returns its combined output and exit code.
func engineDocker(t *testing.T, eng *dockerengine.Engine, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(eng.Env(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_CLI_HINTS=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("engine: docker %v: %v", args, err)
	}
	return out.String(), code
}

// mustRun fails t unless the docker command run by do exits 0.
func mustRun(t *testing.T, do func(t *testing.T, args ...string) (string, int), args ...string) string {
	t.Helper()
	out, code := do(t, args...)
	if code != 0 {
		t.Fatalf("docker %v: exit %d:\n%s", args, code, out)
	}
	return out
}

// fidelityTarget is one side of a comparison with the reference engine:
// how to run the docker CLI there and the image its containers run.
type fidelityTarget struct {
	name  string
	do    func(t *testing.T, args ...string) (string, int)
	image string
}

// againstEngine starts the reference engine and a memory-provider
// Sockerless (stopped when t ends) and returns them as targets, the
// engine first: its containers run busybox, Sockerless's alpine:3.20,
// which the caller pulls (offline: a placeholder image without layers).
// s is that Sockerless, for requests the CLI does not make.
func againstEngine(t *testing.T) (ref, sl fidelityTarget, s *server) {
	t.Helper()
	eng, err := dockerengine.Start(context.Background(), dockerengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop() })
	s = startServer(t, memoryOptions(t))
	return fidelityTarget{"engine", func(t *testing.T, args ...string) (string, int) { return engineDocker(t, eng, args...) }, dockerengine.BusyboxImage},
		fidelityTarget{"sockerless", func(t *testing.T, args ...string) (string, int) { return s.docker(t, "", args...) }, "alpine:3.20"}, s
}

// TestFidelityImagesAgainstEngine: docker diff, commit, save and pause on
// a container of alpine:3.20 pulled offline (a placeholder image without
// layers) behave as the same steps on the reference engine's busybox
// container, and the saved archive loads into the reference engine with
// the committed file in its layers.
func TestFidelityImagesAgainstEngine(t *testing.T) {
	refT, slT, s := againstEngine(t)
	ref, sl := refT.do, slT.do
	if out := mustRun(t, sl, "pull", "alpine:3.20"); !strings.Contains(out, "placeholder") {
		t.Fatalf("this test wants alpine:3.20 pulled offline (a placeholder image); the pull said:\n%s", out)
	}
	targets := []fidelityTarget{refT, slT}
	diffs := map[string]string{}
	for _, tg := range targets {
		mustRun(t, tg.do, "run", "-d", "--name", "box", tg.image, "sleep", "600")
		mustRun(t, tg.do, "exec", "box", "sh", "-c", "mkdir /foo && echo x > /foo/bar")
		// The engine lists changes in its map's order: compare as sets.
		lines := strings.Split(mustRun(t, tg.do, "diff", "box"), "\n")
		slices.Sort(lines)
		diffs[tg.name] = strings.Join(lines, "\n")
	}
	t.Run("diff", func(t *testing.T) {
		if !slices.Contains(strings.Split(diffs["sockerless"], "\n"), "A /foo/bar") || diffs["sockerless"] != diffs["engine"] {
			t.Errorf("docker diff: sockerless said\n%s\nthe engine said\n%s", diffs["sockerless"], diffs["engine"])
		}
	})
	t.Run("commit", func(t *testing.T) {
		for _, tg := range targets {
			mustRun(t, tg.do, "commit", "-c", "ENV FID=1", "-c", `CMD ["cat", "/foo/bar"]`, "-a", "fid author", "-m", "fid message", "box", "fid/committed:1")
			got := mustRun(t, tg.do, "image", "inspect", "-f", "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{len .RootFS.Layers}}", "fid/committed:1")
			env := mustRun(t, tg.do, "image", "inspect", "-f", "{{json .Config.Env}}", "fid/committed:1")
			if !strings.HasPrefix(got, `fid author|fid message|["cat","/foo/bar"]|`) || !strings.Contains(env, `"FID=1"`) {
				t.Errorf("%s: committed image: %s %s", tg.name, got, env)
			}
			if tg.name == "sockerless" {
				// The engine's busybox cannot run here and the sandbox's
				// applets cannot run there: run where each belongs.
				if out := mustRun(t, tg.do, "run", "--rm", "fid/committed:1"); out != "x\n" {
					t.Errorf("%s: run of the committed image's CMD: %q, want \"x\\n\"", tg.name, out)
				}
			}
		}
		engLayers := mustRun(t, ref, "image", "inspect", "-f", "{{len .RootFS.Layers}}", "fid/committed:1")
		slLayers := mustRun(t, sl, "image", "inspect", "-f", "{{len .RootFS.Layers}}", "fid/committed:1")
		if engLayers != "2\n" || slLayers != "2\n" {
			t.Errorf("layers of the committed image: engine %q (busybox's one and the commit's), sockerless %q (the default filesystem and the commit's)", engLayers, slLayers)
		}
	})
	t.Run("save-load", func(t *testing.T) {
		tarPath := filepath.Join(t.TempDir(), "s.tar")
		mustRun(t, sl, "save", "fid/committed:1", "-o", tarPath)
		names := tarNames(t, tarPath)
		if !slices.Contains(names, "manifest.json") {
			t.Fatalf("saved archive has no manifest.json: %v", names)
		}
		mustRun(t, sl, "rmi", "fid/committed:1")
		if out := mustRun(t, sl, "load", "-i", tarPath); !strings.Contains(out, "Loaded image: fid/committed:1") {
			t.Errorf("sockerless load: %s", out)
		}
		if out := mustRun(t, sl, "run", "--rm", "fid/committed:1", "cat", "/foo/bar"); out != "x\n" {
			t.Errorf("run after save, rmi, load: %q", out)
		}
		// The engine loads the archive and its layers hold the file.
		mustRun(t, ref, "rmi", "fid/committed:1")
		if out := mustRun(t, ref, "load", "-i", tarPath); !strings.Contains(out, "Loaded image: fid/committed:1") {
			t.Errorf("engine load: %s", out)
		}
		mustRun(t, ref, "create", "--name", "fromsave", "fid/committed:1")
		out := mustRun(t, ref, "cp", "fromsave:/foo/bar", "-")
		if !strings.Contains(out, "x\n") {
			t.Errorf("engine: /foo/bar of the loaded image: %q", out)
		}
		if got := mustRun(t, ref, "image", "inspect", "-f", "{{json .Config.Cmd}}", "fid/committed:1"); got != "[\"cat\",\"/foo/bar\"]\n" {
			t.Errorf("engine: Cmd of the loaded image: %s", got)
		}
	})
	t.Run("save-by-path", func(t *testing.T) {
		// GET /images/{name}/get, the older form of docker save.
		resp, err := s.httpClient().Get("http://docker/v1.50/images/fid/committed:1/get")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var names []string
		tr := tar.NewReader(resp.Body)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			names = append(names, h.Name)
		}
		if resp.StatusCode != 200 || !slices.Contains(names, "manifest.json") {
			t.Errorf("GET /images/fid/committed:1/get: %d, entries %v", resp.StatusCode, names)
		}
	})
	t.Run("pause", func(t *testing.T) {
		for _, tg := range targets {
			mustRun(t, tg.do, "pause", "box")
			if got := mustRun(t, tg.do, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "box"); got != "paused true true\n" {
				t.Errorf("%s: paused state: %q", tg.name, got)
			}
			out, code := tg.do(t, "exec", "box", "true")
			// Docker names the container as the request did.
			if want := "Container box is paused, unpause the container before exec"; code == 0 || !strings.Contains(out, want) {
				t.Errorf("%s: exec into a paused container: exit %d %q, want %q", tg.name, code, out, want)
			}
			mustRun(t, tg.do, "unpause", "box")
			if got := mustRun(t, tg.do, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "box"); got != "running false\n" {
				t.Errorf("%s: unpaused state: %q", tg.name, got)
			}
		}
	})
	t.Run("stop-paused", func(t *testing.T) {
		got := map[string]string{}
		for _, tg := range targets {
			mustRun(t, tg.do, "run", "-d", "--name", "sp", tg.image, "sh", "-c", "while :; do sleep 1; done")
			mustRun(t, tg.do, "pause", "sp")
			mustRun(t, tg.do, "stop", "-t", "1", "sp")
			got[tg.name] = mustRun(t, tg.do, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}", "sp")
			mustRun(t, tg.do, "run", "-d", "--name", "kp", tg.image, "sleep", "600")
			mustRun(t, tg.do, "pause", "kp")
			mustRun(t, tg.do, "kill", "kp")
			mustRun(t, tg.do, "wait", "kp")
			got[tg.name] += mustRun(t, tg.do, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}", "kp")
		}
		if got["sockerless"] != got["engine"] {
			t.Errorf("stop and kill of a paused container: sockerless %q, engine %q", got["sockerless"], got["engine"])
		}
	})
	t.Run("events", func(t *testing.T) {
		for _, tg := range targets {
			pausedEvents(t, tg.name, tg.do)
		}
	})
}

// pausedEvents checks the events of box, read after the other subtests so
// that none is recent: commit pauses and unpauses it (pause=true by
// default), then docker pause and unpause.
func pausedEvents(t *testing.T, name string, do func(t *testing.T, args ...string) (string, int)) {
	t.Helper()
	ev := mustRun(t, do, "events", "--since", "0", "--until", "0s", "--filter", "container=box", "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=commit", "--format", "{{.Action}}")
	if want := "pause\ncommit\nunpause\npause\nunpause\n"; ev != want {
		t.Errorf("%s: events: %q, want %q", name, ev, want)
	}
}

// tarNames lists the entries of the tar at p.
func tarNames(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		names = append(names, h.Name)
	}
}

// TestFidelityBuildFromUnpulled: docker build FROM an image never pulled
// does what docker pull does offline (a placeholder image, listed after
// the build), and the build's RUN output is in the image.
func TestFidelityBuildFromUnpulled(t *testing.T) {
	s := startServer(t, memoryOptions(t))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM fid/never-pulled:1\nRUN echo built > /b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "build", "-t", "fid/b:1", dir)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.dockerHost, "DOCKER_CONFIG="+s.configDir, "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	if out, code := s.docker(t, "", "run", "--rm", "fid/b:1", "cat", "/b"); code != 0 || out != "built\n" {
		t.Errorf("run of the built image: exit %d %q, want \"built\\n\"", code, out)
	}
	// The built image holds the default filesystem a container of the
	// placeholder base gets (its first layer carries it).
	for _, img := range []string{"fid/never-pulled:1", "fid/b:1"} {
		if out, code := s.docker(t, "", "run", "--rm", img, "ls", "/bin/busybox", "/bin/cat"); code != 0 || out != "/bin/busybox\n/bin/cat\n" {
			t.Errorf("run %s ls /bin/busybox /bin/cat: exit %d %q", img, code, out)
		}
	}
	// As a pull would have, the build recorded the base image.
	cli, err := client.New(client.WithHost(s.dockerHost))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	inspect, err := cli.ImageInspect(ctx, "fid/never-pulled:1")
	if err != nil {
		t.Fatalf("the build's base image after the build: %v", err)
	}
	if _, err := cli.ImageInspect(ctx, "fid/still-not-pulled:1"); !cerrdefs.IsNotFound(err) {
		t.Fatalf("an image nobody named: %v, want not found", err)
	}
	b, _ := json.Marshal(inspect.RepoTags)
	if !strings.Contains(string(b), "fid/never-pulled:1") {
		t.Errorf("base image tags: %s", b)
	}
}
