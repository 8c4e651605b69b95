package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
)

// gitlabHelperTag is the tag GitLab Runner gives the helper image it
// loads (registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper
// with the architecture and its revision).
const gitlabHelperTag = "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.6.0"

// TestGitLabDockerExecutorECS replays, with the Go SDK in its exact API
// order, GitLab Runner's docker executor with FF_NETWORK_PER_BUILD
// (../shared/reference/ci-runner-sequences.md) through the ECS provider
// and the local AWS, where every container is a task of its own with no
// shared file system: the build and cache volumes the helper writes and
// the build container reads are carried by the shim between the tasks.
// The helper image is a busybox image saved from the local registry (a
// Fargate task can only run an image a registry serves).
func TestGitLabDockerExecutorECS(t *testing.T) {
	vols := t.TempDir()
	e, url, img := startECSFunctions(t)
	sock := filepath.Join(t.TempDir(), "d.sock")
	shimLog := mrStart(t, "shim", e.bin+"/sockerless", "SOCKERLESS_TOKEN=gh-token", "SOCKERLESS_VOLUME_DIR="+vols,
		"SOCKERLESS_LOG_LEVEL=debug", "SOCKERLESS_CONTROL_PLANE_URL="+url, "SOCKERLESS_LISTEN=unix://"+sock)
	mrWait(t, "shim", 60*time.Second, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	ref, err := name.ParseReference(img)
	if err != nil {
		t.Fatal(err)
	}
	ri, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("the helper image from the registry: %v", err)
	}
	var tarb bytes.Buffer
	if err := tarball.Write(ref, ri, &tarb); err != nil {
		t.Fatal(err)
	}
	gitlabDockerExecutor(t, "unix://"+sock, img, tarb.Bytes())
	// What carrying the volumes moved and took, per carry (the shim's
	// debug log).
	n := 0
	for _, l := range strings.Split(shimLog.String(), "\n") {
		if strings.Contains(l, "msg=carried") && !strings.Contains(l, "volume=\"\"") && !strings.Contains(l, "volume= ") {
			t.Log(l)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no volume was carried")
	}
	// Removing the volumes removed the folders that kept them.
	if left, err := os.ReadDir(vols); err != nil || len(left) != 0 {
		t.Fatalf("carried volumes left on the runner host: %v %v", left, err)
	}
}

// TestGitLabDockerExecutorDocker is the same flow through the docker
// provider (embedded, on the reference engine), where the volumes are the
// engine's own and the helper image is saved from the engine.
func TestGitLabDockerExecutorDocker(t *testing.T) {
	eng, err := dockerengine.Start(context.Background(), dockerengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop() })
	ec, err := eng.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	saved, err := ec.ImageSave(context.Background(), []string{dockerengine.BusyboxImage})
	if err != nil {
		t.Fatal(err)
	}
	tarb, err := io.ReadAll(saved)
	saved.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	agentBin := filepath.Join(dir, "sockerless-agent")
	if out, err := exec.Command("go", "build", "-tags", "osusergo netgo", "-o", agentBin, "../cmd/sockerless-agent").CombinedOutput(); err != nil {
		t.Fatalf("go build agent: %v\n%s", err, out)
	}
	e := slSetup(t)
	sock := filepath.Join(dir, "d.sock")
	mrStart(t, "shim (docker provider)", e.bin+"/sockerless", "SOCKERLESS_PROVIDER=docker", "SOCKERLESS_DOCKER_HOST="+eng.Host,
		"SOCKERLESS_DOCKER_AGENT="+agentBin, "SOCKERLESS_LISTEN=unix://"+sock)
	mrWait(t, "shim", 60*time.Second, func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
	gitlabDockerExecutor(t, "unix://"+sock, dockerengine.BusyboxImage, tarb)
}

// gitlabStage is one stage of a job: a shell in a container attached
// before its start, the script on its stdin.
type gitlabStage struct {
	name   string
	script string
	want   string // the stage's whole output
}

// gitlabDockerExecutor is GitLab Runner's docker executor with a service,
// through the daemon at host: img is the build and service image (a
// busybox image the daemon can pull), helperTar a docker-save archive of
// the helper image.
func gitlabDockerExecutor(t *testing.T, host, img string, helperTar []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // hang guard
	defer cancel()
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const prefix = "runner-x1y2z3-project-7-concurrent-0"
	labels := map[string]string{"com.gitlab.gitlab-runner.job.id": "42", "com.gitlab.gitlab-runner.project.id": "7",
		"com.gitlab.gitlab-runner.managed": "true"}
	netName := prefix + "-job-42-network"
	buildVol, cacheVol := prefix+"-build-5e1f0c", prefix+"-cache-3c3f06"
	var created []string
	var mu sync.Mutex
	t.Cleanup(func() {
		// What a failed run left (the replay's own clean-up removes all).
		c := context.Background()
		mu.Lock()
		defer mu.Unlock()
		for _, id := range created {
			_, _ = cli.ContainerRemove(c, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		_, _ = cli.NetworkRemove(c, netName, client.NetworkRemoveOptions{})
		_, _ = cli.VolumeRemove(c, buildVol, client.VolumeRemoveOptions{Force: true})
		_, _ = cli.VolumeRemove(c, cacheVol, client.VolumeRemoveOptions{Force: true})
	})

	// 1: ping, version, info.
	ping, err := cli.Ping(ctx, client.PingOptions{})
	must("ping", err)
	if ping.APIVersion == "" {
		t.Fatal("no API-Version on /_ping")
	}
	_, err = cli.ServerVersion(ctx, client.ServerVersionOptions{})
	must("version", err)
	_, err = cli.Info(ctx, client.InfoOptions{})
	must("info", err)

	// 2: the helper image, absent, loaded from its archive and tagged;
	// the build image pulled with X-Registry-Auth.
	if _, err := cli.ImageInspect(ctx, gitlabHelperTag); !cerrdefs.IsNotFound(err) {
		t.Fatalf("helper image inspect before load: %v, want not found", err)
	}
	lr, err := cli.ImageLoad(ctx, bytes.NewReader(helperTar), client.ImageLoadWithQuiet(true))
	must("image load", err)
	loadOut, err := io.ReadAll(lr)
	lr.Close()
	must("image load answer", err)
	if !bytes.Contains(loadOut, []byte("Loaded image")) || bytes.Contains(loadOut, []byte(`"error"`)) {
		t.Fatalf("image load: %s", loadOut)
	}
	loaded, err := cli.ImageInspect(ctx, img)
	must("inspect the loaded image", err)
	_, err = cli.ImageTag(ctx, client.ImageTagOptions{Source: loaded.ID, Target: gitlabHelperTag})
	must("image tag", err)
	helper, err := cli.ImageInspect(ctx, gitlabHelperTag)
	must("inspect the helper image", err)
	auth, _ := json.Marshal(map[string]string{"username": "gitlab-ci-token", "password": "job-token"})
	pr, err := cli.ImagePull(ctx, img, client.ImagePullOptions{RegistryAuth: base64.URLEncoding.EncodeToString(auth)})
	must("image pull", err)
	must("image pull progress", pr.Wait(ctx))
	pr.Close()
	build, err := cli.ImageInspect(ctx, img)
	must("inspect the build image", err)

	// 3: the per-build network and volumes; every container has the binds.
	nr, err := cli.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: labels,
		Options: map[string]string{"com.docker.network.driver.mtu": "1500"}})
	must("network create", err)
	for _, v := range []string{buildVol, cacheVol} {
		_, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v, Labels: labels})
		must("volume create "+v, err)
	}
	binds := []string{buildVol + ":/builds", cacheVol + ":/cache"}
	create := func(nameSuffix string, cfg *container.Config, aliases []string) string {
		t.Helper()
		cfg.Labels = labels
		res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: prefix + "-" + nameSuffix, Config: cfg,
			HostConfig: &container.HostConfig{Binds: binds, NetworkMode: container.NetworkMode(netName),
				RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled}},
			NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {Aliases: aliases}}}})
		must("create "+nameSuffix, err)
		mu.Lock()
		created = append(created, res.ID)
		mu.Unlock()
		return res.ID
	}

	// 4: the service with an alias, started, polled until it left
	// "created"; a helper container probes its lowest exposed port.
	svc := create("postgres-0", &container.Config{Image: build.ID,
		ExposedPorts: network.PortSet{network.MustParsePort("8080/tcp"): {}, network.MustParsePort("5432/tcp"): {}},
		Cmd:          []string{"sh", "-c", "mkdir -p /srv && echo pg-ready > /srv/ready && exec httpd -f -p 5432 -h /srv"}}, []string{"postgres", "db"})
	_, err = cli.ContainerStart(ctx, svc, client.ContainerStartOptions{})
	must("start service", err)
	for {
		ins, err := cli.ContainerInspect(ctx, svc, client.ContainerInspectOptions{})
		must("inspect service", err)
		if ins.Container.State.Status != container.StateCreated {
			if ins.Container.State.Status != container.StateRunning {
				t.Fatalf("service is %s", ins.Container.State.Status)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("service never left created")
		case <-time.After(100 * time.Millisecond):
		}
	}
	ins, err := cli.ContainerInspect(ctx, svc, client.ContainerInspectOptions{})
	must("inspect service", err)
	lowest := 0
	for p := range ins.Container.Config.ExposedPorts {
		if p.Proto() == "tcp" && (lowest == 0 || int(p.Num()) < lowest) {
			lowest = int(p.Num())
		}
	}
	if lowest != 5432 {
		t.Fatalf("lowest exposed port %d", lowest)
	}
	// The probe loops until the port answers (GitLab bounds it by
	// wait_for_services_timeout, then warns and goes on; here a task's
	// start on a loaded machine may take longer, so ctx bounds it).
	probe := create("postgres-0-wait-for-service", &container.Config{Image: helper.ID,
		Env: []string{"SERVICE_HOST=postgres", fmt.Sprintf("SERVICE_PORT=%d", lowest)},
		Cmd: []string{"sh", "-c", `until wget -q -O /dev/null "http://$SERVICE_HOST:$SERVICE_PORT/ready"; do sleep 0.2; done`}}, nil)
	_, err = cli.ContainerStart(ctx, probe, client.ContainerStartOptions{})
	must("start the service probe", err)
	wr := cli.ContainerWait(ctx, probe, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wr.Result:
		if res.StatusCode != 0 {
			t.Fatalf("service probe exit %d", res.StatusCode)
		}
	case err := <-wr.Error:
		t.Fatalf("service probe wait: %v", err)
	}

	// 5: stages. The helper container is created once and started again
	// for each helper stage; the build container runs the job's script.
	shellCfg := func(image string) *container.Config {
		return &container.Config{Image: image, Hostname: prefix, Cmd: []string{"sh", "-s"}, OpenStdin: true, StdinOnce: true,
			AttachStdin: true, AttachStdout: true, AttachStderr: true, Env: []string{"CI=true", "GITLAB_CI=true", "CI_PROJECT_DIR=/builds/group/project"}}
	}
	helperID := create("predefined", shellCfg(helper.ID), nil)
	buildID := create("build", shellCfg(build.ID), nil)
	run := func(id string, st gitlabStage) {
		t.Helper()
		began := time.Now()
		at, err := cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
		must("attach "+st.name, err)
		defer at.Close()
		var out, errOut bytes.Buffer
		copied := make(chan error, 1)
		go func() {
			_, err := stdcopy.StdCopy(&out, &errOut, at.Reader)
			copied <- err
		}()
		_, err = cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
		must("start "+st.name, err)
		if _, err := io.WriteString(at.Conn, st.script); err != nil {
			t.Fatalf("%s: writing the script: %v", st.name, err)
		}
		must("close stdin of "+st.name, at.CloseWrite())
		wr := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		var code int64
		select {
		case res := <-wr.Result:
			code = res.StatusCode
		case err := <-wr.Error:
			t.Fatalf("%s: wait: %v", st.name, err)
		}
		select {
		case err := <-copied:
			must("output of "+st.name, err)
		case <-ctx.Done():
			t.Fatalf("%s: the attach stream never ended", st.name)
		}
		if code != 0 || out.String() != st.want {
			t.Fatalf("%s: exit %d, stdout %q (want %q), stderr %q", st.name, code, out.String(), st.want, errOut.String())
		}
		t.Logf("stage %s: %v from attach to exit", st.name, time.Since(began).Round(time.Millisecond))
	}
	// The helper clones into /builds and restores /cache; a file of 4 MiB
	// (random: every byte carried) and 200 small ones stand for a checkout.
	run(helperID, gitlabStage{name: "get_sources", script: `set -e
mkdir -p /builds/group/project/src
cd /builds/group/project
echo checked-out > README
i=0; while [ $i -lt 200 ]; do echo "file $i" > src/f$i.txt; i=$((i+1)); done
dd if=/dev/urandom of=blob bs=1024 count=4096 2>/dev/null
echo cached > /cache/key.txt
echo fetched
`, want: "fetched\n"})
	// The build container reads what the helper wrote, reaches the
	// service by its alias and leaves an artifact.
	run(buildID, gitlabStage{name: "build_script", script: `set -e
cd /builds/group/project
cat README /cache/key.txt
ls src | wc -l
wc -c < blob
wget -q -O - http://postgres:5432/ready
echo artifact-from-build > artifact.txt
`, want: "checked-out\ncached\n200\n4194304\npg-ready\n"})
	// The helper, started again after it exited, uploads the artifact.
	run(helperID, gitlabStage{name: "upload_artifacts", script: `set -e
cat /builds/group/project/artifact.txt
`, want: "artifact-from-build\n"})

	// 6: clean-up, every container in parallel: a SIGTERM script by exec
	// where one runs, stop with no grace, disconnect, forced removal
	// with its volumes; then the network and the volumes.
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, id := range []string{svc, probe, helperID, buildID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ins, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && ins.Container.State.Running {
				ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "kill -TERM -1 2>/dev/null; true"}})
				if err != nil {
					errs <- fmt.Errorf("exec create on %s: %w", id, err)
					return
				}
				if _, err := cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
					errs <- fmt.Errorf("exec start on %s: %w", id, err)
					return
				}
			}
			zero := 0
			if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &zero}); err != nil {
				errs <- fmt.Errorf("stop %s: %w", id, err)
				return
			}
			if _, err := cli.NetworkDisconnect(ctx, nr.ID, client.NetworkDisconnectOptions{Container: id, Force: true}); err != nil {
				errs <- fmt.Errorf("disconnect %s: %w", id, err)
				return
			}
			if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				errs <- fmt.Errorf("remove %s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	_, err = cli.NetworkRemove(ctx, nr.ID, client.NetworkRemoveOptions{})
	must("network remove", err)
	for _, v := range []string{buildVol, cacheVol} {
		_, err := cli.VolumeRemove(ctx, v, client.VolumeRemoveOptions{})
		must("volume remove "+v, err)
	}
	t.Logf("clean-up: %v", time.Since(began).Round(time.Millisecond))
	if l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true}); err != nil || len(l.Items) != 0 {
		t.Fatalf("containers left: %v %v", l, err)
	}
}
