package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sockerless/sockerless/integration/localcloud/awscloud"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// BenchmarkAWSRunRm times `docker run --rm IMAGE true` through the shim
// and sockerless-functions (on PORT, memory state) to the ECS and Lambda
// providers against the local AWS, next to the same image run directly on
// the engine the fakes use. platform-ms/op is the time the fakes spent
// starting the container on the engine (pull check, create, start: the
// platform's own start); cli-ms/op is the docker CLI's own share of a
// run, the same on both sides (the engine's run through the CLI less the
// same run through the Go SDK, measured in the same benchmark);
// sockerless-ms/op is the rest of the run: what Sockerless and the agent
// add (target under 150 ms); over-engine-ms/op is the run's time over the
// same run made directly on the engine through the CLI. With
// BENCH_AWS_LOG_DIR set, sockerless-functions logs at debug level to
// DIR/ecs.log and DIR/lambda.log (the providers' step timings).
func BenchmarkAWSRunRm(b *testing.B) {
	ctx := context.Background()
	root, err := emulators.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	cloud, err := awscloud.Start(ctx, awscloud.Options{ModuleDir: root, EngineHost: os.Getenv("SOCKERLESS_LOCALCLOUD_ENGINE")})
	if err != nil {
		b.Fatal(err)
	}
	defer cloud.Close()
	dir := b.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	rport := benchPort(b)
	benchStart(b, dir+"/sockerless-relay", "PORT="+rport, "SOCKERLESS_SECRET=bench-secret")
	docker := func(b *testing.B, host string, args ...string) {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_CONFIG="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	docker(b, cloud.EngineHost, "pull", "-q", cloud.Image)
	var engineOp, sdkOp time.Duration // per run, directly on the engine: through the CLI, through the SDK
	b.Run("engine-sdk", func(b *testing.B) {
		c, err := client.New(client.WithHost(cloud.EngineHost))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			sdkRunRm(b, c, cloud.Image)
		}
		sdkOp = time.Since(start) / time.Duration(b.N)
	})
	b.Run("engine", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			docker(b, cloud.EngineHost, "run", "--rm", "--network", "host", cloud.Image, "true")
		}
		engineOp = time.Since(start) / time.Duration(b.N)
	})
	for _, provider := range []string{"ecs", "lambda"} {
		b.Run(provider, func(b *testing.B) {
			fport := benchPort(b)
			env := append(append([]string{}, cloud.Env...), "PORT="+fport, "SOCKERLESS_SECRET=bench-secret", "SOCKERLESS_STATE=memory",
				"SOCKERLESS_PROVIDER="+provider, "SOCKERLESS_RELAY_URL=ws://127.0.0.1:"+rport, "SOCKERLESS_TOKEN=bench-token")
			if logDir := os.Getenv("BENCH_AWS_LOG_DIR"); logDir != "" {
				// Provider timings (slog debug) for finding where a run's time goes.
				env = append(env, "SOCKERLESS_LOG_LEVEL=debug")
				benchStartLog(b, filepath.Join(logDir, provider+".log"), dir+"/sockerless-functions", env...)
			} else {
				benchStart(b, dir+"/sockerless-functions", env...)
			}
			sock := filepath.Join(b.TempDir(), "d.sock")
			benchStart(b, dir+"/sockerless", "SOCKERLESS_CONTROL_PLANE_URL=http://127.0.0.1:"+fport, "SOCKERLESS_LISTEN=unix://"+sock, "SOCKERLESS_TOKEN=bench-token")
			host := "unix://" + sock
			benchWaitPing(b, sock)
			docker(b, host, "run", "--rm", cloud.Image, "true") // injection and definition, once
			engine0 := cloud.EngineTime()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				docker(b, host, "run", "--rm", cloud.Image, "true")
			}
			total := time.Since(start)
			b.StopTimer()
			engine := cloud.EngineTime() - engine0
			b.ReportMetric(float64(engine.Milliseconds())/float64(b.N), "platform-ms/op")
			cli := max(engineOp-sdkOp, 0)
			b.ReportMetric(float64(cli.Milliseconds()), "cli-ms/op")
			b.ReportMetric(float64(((total-engine)/time.Duration(b.N) - cli).Milliseconds()), "sockerless-ms/op")
			// What the whole path costs over the same run done directly on
			// the engine (CLI start-up and the engine's work on both sides):
			// an upper bound of what Sockerless adds, as the fakes' own
			// bookkeeping counts in it too.
			if engineOp > 0 {
				b.ReportMetric(float64((total/time.Duration(b.N) - engineOp).Milliseconds()), "over-engine-ms/op")
			}
		})
	}
}

// sdkRunRm is `docker run --rm --network host image true` made through
// the Go SDK as the CLI makes it (create with auto-remove, attach, wait
// for the removal, start), without the CLI's own start-up and exit.
func sdkRunRm(b *testing.B, c *client.Client, image string) {
	ctx := context.Background()
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true},
		HostConfig: &container.HostConfig{NetworkMode: "host", AutoRemove: true}})
	if err != nil {
		b.Fatal(err)
	}
	att, err := c.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		b.Fatal(err)
	}
	defer att.Close()
	wait := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, att.Reader)
	select {
	case err := <-wait.Error:
		b.Fatal(err)
	case <-wait.Result:
	}
}

func benchPort(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
}

func benchStart(b *testing.B, bin string, env ...string) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// benchStartLog is benchStart with the process's output appended to
// logFile.
func benchStartLog(b *testing.B, logFile, bin string, env ...string) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = f.Close() })
}

func benchWaitPing(b *testing.B, sock string) {
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://d/_ping")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("shim did not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
