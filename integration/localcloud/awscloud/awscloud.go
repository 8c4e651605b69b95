// Package awscloud assembles the local AWS that the ecs and lambda
// providers run against: moto (IAM, STS, CloudWatch Logs, the ECR API), a
// registry standing in for ECR's /v2/ (go-containerregistry's
// pkg/registry), the ECS fake and a Docker engine the fake runs tasks on.
// Everything listens on loopback. `go run ./integration/localcloud aws`
// and the integration tests start it.
package awscloud

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/sockerless/sockerless/integration/localcloud/dockerrun"
	"github.com/sockerless/sockerless/integration/localcloud/ecsfake"
	"github.com/sockerless/sockerless/integration/localcloud/lambdafake"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// Fixed names of the local account.
const (
	Region     = "us-east-1"
	Account    = "123456789012"
	Cluster    = "sockerless"
	Subnet     = "subnet-0local0000000001"
	SecGroup   = "sg-0local0000000001"
	LogGroup   = "/sockerless/tasks"
	Repository = "sockerless"
)

// Options configures Start.
type Options struct {
	// EngineHost is a Docker engine to run tasks on; empty starts the
	// reference engine (package dockerengine).
	EngineHost string
	// AgentBinary is a static sockerless-agent; empty builds one from
	// ModuleDir.
	AgentBinary string
	// ModuleDir is the project checkout (default: the working directory).
	ModuleDir string
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Cloud is a running local AWS.
type Cloud struct {
	// Env is what configures sockerless-functions for it (NAME=VALUE),
	// for both SOCKERLESS_PROVIDER=ecs and lambda.
	Env []string
	// Image is a busybox image in the registry.
	Image string
	// Registry is the registry's host:port.
	Registry string
	// ECS is the ECS fake.
	ECS *ecsfake.Fake
	// EngineHost is the Docker engine tasks run on.
	EngineHost string

	engineTime atomic.Int64 // nanoseconds tasks and invocations spent on the engine

	dir     string
	log     *slog.Logger
	closers []func()
	once    sync.Once
}

// Start brings everything up; Close stops it.
func Start(ctx context.Context, opts Options) (c *Cloud, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "localcloud-aws-")
	if err != nil {
		return nil, err
	}
	c = &Cloud{dir: dir, log: log}
	started := c // the error returns below set c to nil
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	c.closers = append(c.closers, func() { _ = os.RemoveAll(dir) })

	// moto
	motoURL, err := c.startMoto()
	if err != nil {
		return nil, err
	}
	awsCfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("localcloud", "localcloud", "")}
	logsClient := cloudwatchlogs.NewFromConfig(awsCfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(motoURL) })
	if _, err := logsClient.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(LogGroup)}); err != nil {
		return nil, fmt.Errorf("moto: create log group: %w", err)
	}
	iamClient := iam.NewFromConfig(awsCfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(motoURL) })
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ecs-tasks.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`
	roles := map[string]string{}
	for _, r := range []string{"sockerless-execution", "sockerless-task", "sockerless-lambda"} {
		out, err := iamClient.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			return nil, fmt.Errorf("moto: create role %s: %w", r, err)
		}
		roles[r] = aws.ToString(out.Role.Arn)
	}
	ecrClient := ecr.NewFromConfig(awsCfg, func(o *ecr.Options) { o.BaseEndpoint = aws.String(motoURL) })
	if _, err := ecrClient.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(Repository)}); err != nil {
		return nil, fmt.Errorf("moto: create repository: %w", err)
	}

	// registry
	regAddr, err := c.serve(registry.New(registry.Logger(stdlog.New(io.Discard, "", 0))))
	if err != nil {
		return nil, err
	}
	c.Registry = regAddr

	// engine
	host := opts.EngineHost
	if host == "" {
		if host, err = c.startEngine(ctx); err != nil {
			return nil, err
		}
	}
	c.EngineHost = host
	eng, err := dockerrun.New(host)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { _ = eng.Close() })

	// ECS fake
	runner := timingRunner{r: ecsfake.EngineRunner(eng), total: &c.engineTime}
	c.ECS = ecsfake.New(ecsfake.Options{Region: Region, Account: Account, Clusters: []string{Cluster}, Runner: runner,
		Logs: cloudWatchSink{logsClient}, Logger: log})
	ecsAddr, err := c.serve(c.ECS)
	if err != nil {
		return nil, err
	}
	// Stop the tasks before the engine goes (closers run in reverse).
	c.closers = append(c.closers, c.ECS.Close)

	// Lambda fake
	lambdaFake := lambdafake.New(lambdafake.Options{Region: Region, Account: Account, ECRHost: regAddr, Runner: runner,
		Logs: lambdaSink{cloudWatchSink{logsClient}}, Logger: log})
	lambdaAddr, err := c.serve(lambdaFake)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, lambdaFake.Close)

	// busybox
	if c.Image, err = pushBusybox(ctx, regAddr); err != nil {
		return nil, err
	}

	// agent
	agentBin := opts.AgentBinary
	if agentBin == "" {
		agentBin = filepath.Join(dir, "sockerless-agent")
		if err := buildAgent(ctx, opts.ModuleDir, agentBin); err != nil {
			return nil, err
		}
	}

	c.Env = []string{
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=localcloud",
		"AWS_SECRET_ACCESS_KEY=localcloud",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_ECS=http://" + ecsAddr,
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=" + motoURL,
		"AWS_ENDPOINT_URL_ECR=" + motoURL,
		"AWS_ENDPOINT_URL_LAMBDA=http://" + lambdaAddr,
		"AWS_ENDPOINT_URL_IAM=" + motoURL,
		"AWS_ENDPOINT_URL_STS=" + motoURL,
		"SOCKERLESS_ECS_CLUSTER=" + Cluster,
		"SOCKERLESS_ECS_SUBNETS=" + Subnet,
		"SOCKERLESS_ECS_SECURITY_GROUPS=" + SecGroup,
		"SOCKERLESS_ECS_EXECUTION_ROLE_ARN=" + roles["sockerless-execution"],
		"SOCKERLESS_ECS_TASK_ROLE_ARN=" + roles["sockerless-task"],
		"SOCKERLESS_ECS_ASSIGN_PUBLIC_IP=false",
		"SOCKERLESS_LOG_GROUP=" + LogGroup,
		"SOCKERLESS_ECR_REPOSITORY=" + regAddr + "/" + Repository,
		"SOCKERLESS_LAMBDA_ROLE_ARN=" + roles["sockerless-lambda"],
		"SOCKERLESS_AGENT_BINARY=" + agentBin,
		"LOCALCLOUD_IMAGE=" + c.Image,
	}
	return c, nil
}

// EngineTime is how long the fakes have spent starting containers on the
// engine in all (image pull check, create, start): the platform's own
// start time, as opposed to Sockerless's share of a run.
func (c *Cloud) EngineTime() time.Duration { return time.Duration(c.engineTime.Load()) }

// timingRunner adds each container's start time on the engine to total.
type timingRunner struct {
	r     ecsfake.Runner
	total *atomic.Int64
}

func (t timingRunner) Run(ctx context.Context, s ecsfake.ContainerSpec, line func(int, []byte)) (ecsfake.RunningContainer, error) {
	start := time.Now()
	rc, err := t.r.Run(ctx, s, line)
	t.total.Add(int64(time.Since(start)))
	return rc, err
}

// Close stops everything Start started, newest first. Safe to call twice.
func (c *Cloud) Close() {
	c.once.Do(func() {
		for i := len(c.closers) - 1; i >= 0; i-- {
			c.closers[i]()
		}
	})
}

// serve serves h on a loopback port until Close.
func (c *Cloud) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	c.closers = append(c.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String(), nil
}

// startMoto runs moto_server on loopback through the emulator starter
// the tests use (free port, own process group, readiness on /moto-api/),
// and stops it with the cloud.
func (c *Cloud) startMoto() (string, error) {
	m, err := emulators.Moto()
	if err != nil {
		return "", err
	}
	c.closers = append(c.closers, m.Stop)
	return m.Endpoint, nil
}

// startEngine runs the reference engine (package dockerengine) on a
// private socket; it is stopped, and everything it made removed, at Close.
func (c *Cloud) startEngine(ctx context.Context) (string, error) {
	eng, err := dockerengine.Start(ctx, dockerengine.Options{NoBusybox: true})
	if err != nil {
		return "", fmt.Errorf("reference engine: %w", err)
	}
	c.closers = append(c.closers, func() { _ = eng.Stop() })
	return eng.Host, nil
}

func orDot(d string) string {
	if d == "" {
		return "."
	}
	return d
}

// buildAgent builds a static sockerless-agent.
func buildAgent(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/sockerless-agent")
	cmd.Dir = orDot(moduleDir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build sockerless-agent: %w: %s", err, b)
	}
	return nil
}

// pushBusybox builds a busybox image from busybox-static (/bin/busybox)
// and pushes it to the registry as busybox:latest.
func pushBusybox(ctx context.Context, reg string) (string, error) {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static: %w", err)
	}
	applets, err := exec.CommandContext(ctx, "/bin/busybox", "--list-full").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list-full: %w", err)
	}
	layer, err := busyboxLayer(bin, strings.Fields(string(applets)))
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	ref, err := name.ParseReference(reg + "/busybox:latest")
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push busybox: %w", err)
	}
	return ref.String(), nil
}

func busyboxLayer(bin []byte, applets []string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(d string) error {
		if d == "" || dirs[d] {
			return nil
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mt})
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root", "home", "var", "proc", "sys", "dev"} {
		if err := dir(d); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: mt}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, a := range applets {
		a = strings.TrimPrefix(a, "/")
		if a == "bin/busybox" || a == "" {
			continue // linking busybox to itself would lose the binary
		}
		if err := dir(filepath.Dir(a)); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", ModTime: mt}); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":  "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nnogroup:x:65534:\n",
	}
	for _, n := range []string{"etc/group", "etc/passwd"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: mt}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// cloudWatchSink writes task output to CloudWatch Logs (moto), as the
// awslogs driver does.
type cloudWatchSink struct{ c *cloudwatchlogs.Client }

func (s cloudWatchSink) Check(ctx context.Context, group string) error {
	out, err := s.c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil {
		return err
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == group {
			return nil
		}
	}
	return fmt.Errorf("log group %s does not exist", group)
}

func (s cloudWatchSink) Write(ctx context.Context, group, stream string, lines []ecsfake.LogLine) error {
	_, err := s.c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	var exists *cwtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	var events []cwtypes.InputLogEvent
	for _, l := range lines {
		msg := l.Text
		if msg == "" {
			continue // CloudWatch refuses empty events; the awslogs driver skips them
		}
		events = append(events, cwtypes.InputLogEvent{Message: aws.String(msg), Timestamp: aws.Int64(l.Time.UnixMilli())})
	}
	if len(events) == 0 {
		return nil
	}
	_, err = s.c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events})
	return err
}

// lambdaSink creates a function's log group on first use, as Lambda does.
type lambdaSink struct{ cloudWatchSink }

func (s lambdaSink) Write(ctx context.Context, group, stream string, lines []ecsfake.LogLine) error {
	_, err := s.c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	var exists *cwtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	return s.cloudWatchSink.Write(ctx, group, stream, lines)
}
