// Package ecs is the ECS Fargate provider (SOCKERLESS_PROVIDER=ecs): each
// container is one Fargate task whose image is the user's image with the
// sockerless agent appended (package cloudagent), run in the configured
// cluster, subnets and security groups (awsvpc).
//
// Create injects the agent (cached by image digest) and registers a task
// definition keyed by its content (image, command, environment, user,
// working dir, cpu/memory), reusing an existing one. Start runs the task
// and returns only once its agent has reached the relay, so the next
// `docker ps` sees it running; a task that stops first (image pull
// failure, bad log group) fails the start with ECS's reason. The agent is
// the container's entry point: it runs the container's command as PID 1's
// child and reaps, or keeps the task alive instead of `tail -f /dev/null`
// and `sleep infinity`. Exit codes come from the agent's report; when the
// agent could not report (the task died: OutOfMemoryError), the sweep
// (functions' POST /_sockerless/sweep) finds the task stopped through
// Exists and records the exit code and OOM kill DescribeTasks gives
// (ExitOf): no goroutine outlives a request. Signals travel to the agent
// through the relay; StopTask is the SIGKILL of last resort. Logs are read
// from CloudWatch Logs (GetLogEvents), where the agent writes tagged lines
// that keep stdout and stderr apart.
//
// Tasks are found by startedBy (the container id), so any functions
// instance can act on any container.
package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/cloudagent"
	"github.com/sockerless/sockerless/relay/ticket"
)

// ContainerName is the name of the one container in every task
// definition the provider registers.
const ContainerName = "main"

// StreamPrefix is the awslogs stream prefix; a task's stream is
// StreamPrefix/ContainerName/TASK-ID.
const StreamPrefix = "sockerless"

// Options configures a Provider.
type Options struct {
	Config Config
	// AWS is the SDK configuration (region, credentials, endpoints).
	AWS aws.Config
	// Injector appends the agent to images. Required.
	Injector *cloudagent.Injector
	// Link reaches agents through the relay. Required.
	Link cloudagent.Link
	// Secret derives agent tokens. Required.
	Secret []byte
	// RelayURL is given to agents. Required.
	RelayURL string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// PollInterval is the longest wait between DescribeTasks calls while
	// waiting for a task (default 1 s); the first come after 50 ms and
	// the wait doubles up to it (a quarter of it for a stop).
	PollInterval time.Duration
	// StartTimeout bounds a start (default 5 min: Fargate provisioning and
	// image pulls take a while).
	StartTimeout time.Duration
}

// Provider runs containers as Fargate tasks. Safe for concurrent use.
type Provider struct {
	opts Options
	ecs  *ecs.Client
	logs *cloudwatchlogs.Client
	log  *slog.Logger

	mu    sync.Mutex
	tasks map[string]string // container id -> task ARN (a cache; ListTasks is the truth)
	defs  map[string]string // definition key -> ARN (a cache)
	// created maps a container id to the definition its Create resolved
	// (a cache: Start resolves the image and definition again when the
	// create went to another instance).
	created map[string]createdDef
}

// createdDef is the definition Create resolved for a container, with the
// fingerprint of the spec it was made for (docker update may change the
// limits before the start).
type createdDef struct {
	arn, spec string
}

// fingerprint identifies what of s the task definition is made of ("" when
// it cannot be encoded: then nothing is cached). Fields functions fills
// in later (network interfaces, the image id) do not change it.
func fingerprint(s providers.Spec) string {
	b, err := json.Marshal(struct {
		Image                string
		Entrypoint, Cmd, Env []string
		WorkingDir, User     string
		Tty, OpenStdin, Once bool
		Labels               map[string]string
		Mounts               []providers.Mount
		Tmpfs                map[string]string
		Healthcheck          *providers.Healthcheck
		Memory, NanoCPUs     int64
	}{s.Image, s.Entrypoint, s.Cmd, s.Env, s.WorkingDir, s.User, s.Tty, s.OpenStdin, s.StdinOnce, s.Labels, s.Mounts, s.Tmpfs,
		s.Healthcheck, s.Memory, s.NanoCPUs})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// New returns an ECS provider.
func New(opts Options) (*Provider, error) {
	if opts.Injector == nil || opts.Link.Dialer == nil || len(opts.Secret) == 0 || opts.RelayURL == "" {
		return nil, errors.New("ecs: Injector, Link, Secret and RelayURL are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	return &Provider{
		opts: opts, ecs: ecs.NewFromConfig(opts.AWS), logs: cloudwatchlogs.NewFromConfig(opts.AWS), log: opts.Logger,
		tasks: map[string]string{}, defs: map[string]string{}, created: map[string]createdDef{},
	}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return "ecs" }

// classify maps an AWS error to a Docker error class.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ClientException", "InvalidParameterException":
			return errdefs.InvalidParameter(fmt.Errorf("ecs: %s: %s", what, ae.ErrorMessage()))
		case "AccessDeniedException":
			return errdefs.Forbidden(fmt.Errorf("ecs: %s: %s", what, ae.ErrorMessage()))
		case "ResourceNotFoundException":
			return errdefs.NotFound(fmt.Errorf("ecs: %s: %s", what, ae.ErrorMessage()))
		}
		return errdefs.Unavailable(fmt.Errorf("ecs: %s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage()))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailable(fmt.Errorf("ecs: %s: %w", what, err))
}

// fargateSizes are the valid Fargate task sizes: CPU units and the memory
// values (MiB) allowed with each.
var fargateSizes = []struct {
	cpu                 int
	minMem, maxMem, inc int
}{
	{256, 512, 512, 1}, {256, 1024, 2048, 1024},
	{512, 1024, 4096, 1024},
	{1024, 2048, 8192, 1024},
	{2048, 4096, 16384, 1024},
	{4096, 8192, 30720, 1024},
	{8192, 16384, 61440, 4096},
	{16384, 32768, 122880, 8192},
}

// taskSize picks the smallest Fargate size holding the limits.
//
// # Errors
//
// InvalidParameter when no Fargate size is that large.
func taskSize(memory, nanoCPUs int64) (cpu, mem int, err error) {
	wantCPU := int((nanoCPUs*1024 + 1e9 - 1) / 1e9)
	wantMem := int((memory + (1<<20 - 1)) >> 20)
	for _, s := range fargateSizes {
		if s.cpu < wantCPU {
			continue
		}
		for m := s.minMem; m <= s.maxMem; m += s.inc {
			if m >= wantMem {
				return s.cpu, m, nil
			}
		}
	}
	return 0, 0, errdefs.InvalidParameterf("ecs: no Fargate task size holds %d MiB of memory and %.2f CPUs (at most 16 vCPU and 120 GiB)", wantMem, float64(nanoCPUs)/1e9)
}

// isKeepAlive reports whether argv only keeps a container alive; the agent
// then serves with no main process.
func isKeepAlive(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	base := argv[0][strings.LastIndex(argv[0], "/")+1:]
	return (base == "tail" && slices.Equal(argv[1:], []string{"-f", "/dev/null"})) ||
		(base == "sleep" && slices.Equal(argv[1:], []string{"infinity"}))
}

// agentArgs are the agent's arguments for a container's command.
func agentArgs(s providers.Spec) ([]string, error) {
	argv := append(append([]string(nil), s.Entrypoint...), s.Cmd...)
	if len(argv) == 0 {
		return nil, errdefs.InvalidParameterf("no command specified")
	}
	if isKeepAlive(argv) {
		return []string{"--keep-alive"}, nil
	}
	return append([]string{"--"}, argv...), nil
}

// mountDirs lists, comma-separated and sorted, the destinations of s's
// tmpfs and volume mounts: a Fargate task has no tmpfs and no Docker
// volumes, so the agent makes each a directory of the task's ephemeral
// storage, where the shim carries the binds it rewrote into tmpfs mounts
// (localshim.RewriteCreate) and where the image's own files stay.
func mountDirs(s providers.Spec) string {
	var ds []string
	for _, m := range s.Mounts {
		if (m.Type == "tmpfs" || m.Type == "volume") && !strings.Contains(m.Destination, ",") {
			ds = append(ds, m.Destination)
		}
	}
	for d := range s.Tmpfs {
		if !strings.Contains(d, ",") {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return strings.Join(slices.Compact(ds), ",")
}

// definition builds the task definition for s with the injected image.
func (p *Provider) definition(s providers.Spec, image string) (*ecs.RegisterTaskDefinitionInput, error) {
	args, err := agentArgs(s)
	if err != nil {
		return nil, err
	}
	cpu, mem, err := taskSize(s.Memory, s.NanoCPUs)
	if err != nil {
		return nil, err
	}
	var env []types.KeyValuePair
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SOCKERLESS_") {
			continue // the agent's own settings are not the user's to set
		}
		env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	add := func(k, v string) { env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)}) }
	add("SOCKERLESS_RELAY_URL", p.opts.RelayURL)
	if p.opts.Config.ControlPlaneURL != "" {
		add("SOCKERLESS_CONTROL_PLANE_URL", p.opts.Config.ControlPlaneURL)
		// Peers on the container's user networks by name (agent.PeerNet):
		// a Fargate task has no shared network or DNS with the others.
		add("SOCKERLESS_PEER_NET", "true")
		// Two tasks in one VPC reach each other: a connection to a peer
		// goes straight to its agent when the security group admits it,
		// else through the relay (package relay/direct).
		if p.opts.Config.DirectPort > 0 {
			add("SOCKERLESS_DIRECT_LISTEN", "0.0.0.0:"+strconv.Itoa(p.opts.Config.DirectPort))
		}
	}
	if dirs := cloudagent.CarryDirs(s.Labels); dirs != "" {
		add("SOCKERLESS_CARRY_HOLD", dirs)
	}
	if dirs := mountDirs(s); dirs != "" {
		add("SOCKERLESS_MOUNT_DIRS", dirs)
	}
	add("SOCKERLESS_LOG_TAGS", "true")
	if p.opts.Config.ExitedHold > 0 {
		add("SOCKERLESS_EXITED_HOLD", p.opts.Config.ExitedHold.String())
	}
	add("SOCKERLESS_TTY", strconv.FormatBool(s.Tty))
	add("SOCKERLESS_OPEN_STDIN", strconv.FormatBool(s.OpenStdin))
	if s.StdinOnce {
		add("SOCKERLESS_STDIN_ONCE", "true")
	}
	if s.User != "" {
		add("SOCKERLESS_USER", s.User)
	}
	if s.Healthcheck != nil {
		hc, err := json.Marshal(s.Healthcheck)
		if err != nil {
			return nil, err
		}
		add("SOCKERLESS_HEALTHCHECK", string(hc))
	}
	c := types.ContainerDefinition{
		Name: aws.String(ContainerName), Image: aws.String(image), Essential: aws.Bool(true),
		EntryPoint: []string{cloudagent.AgentPath}, Command: args, Environment: env,
		StopTimeout: aws.Int32(2), // StopTask is the SIGKILL of last resort; SIGTERM goes through the agent
		LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
			"awslogs-group": p.opts.Config.LogGroup, "awslogs-region": p.opts.AWS.Region, "awslogs-stream-prefix": StreamPrefix,
		}},
	}
	if s.WorkingDir != "" {
		c.WorkingDirectory = aws.String(s.WorkingDir)
	}
	in := &ecs.RegisterTaskDefinitionInput{
		ContainerDefinitions:    []types.ContainerDefinition{c},
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		NetworkMode:             types.NetworkModeAwsvpc,
		Cpu:                     aws.String(strconv.Itoa(cpu)),
		Memory:                  aws.String(strconv.Itoa(mem)),
		ExecutionRoleArn:        aws.String(p.opts.Config.ExecutionRoleARN),
	}
	if p.opts.Config.TaskRoleARN != "" {
		in.TaskRoleArn = aws.String(p.opts.Config.TaskRoleARN)
	}
	key, err := json.Marshal(struct {
		C   types.ContainerDefinition
		Cpu string
		Mem string
		E   string
		T   string
	}{c, *in.Cpu, *in.Memory, p.opts.Config.ExecutionRoleARN, p.opts.Config.TaskRoleARN})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	in.Family = aws.String(cloudagent.NamePrefixOr(p.opts.Config.NamePrefix) + "-" + hex.EncodeToString(sum[:])[:32])
	return in, nil
}

// ensureDefinition returns the ARN of an ACTIVE definition for s,
// registering one when the family has none.
func (p *Provider) ensureDefinition(ctx context.Context, s providers.Spec) (string, error) {
	inj, err := p.opts.Injector.Inject(ctx, s.Image)
	if err != nil {
		return "", err
	}
	in, err := p.definition(s, inj.Ref)
	if err != nil {
		return "", err
	}
	family := *in.Family
	p.mu.Lock()
	arn, ok := p.defs[family]
	p.mu.Unlock()
	if ok {
		return arn, nil
	}
	out, err := p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(family)})
	if err == nil && out.TaskDefinition != nil && out.TaskDefinition.Status == types.TaskDefinitionStatusActive {
		arn = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	} else {
		if err != nil && !isClientException(err) {
			return "", classify("describe task definition", err)
		}
		reg, err := p.ecs.RegisterTaskDefinition(ctx, in)
		if err != nil {
			return "", classify("register task definition", err)
		}
		arn = aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	}
	p.mu.Lock()
	p.defs[family] = arn
	p.mu.Unlock()
	return arn, nil
}

func isClientException(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ClientException"
}

// Create injects the agent into the image and registers the task
// definition, so a missing image or an impossible size fails docker
// create.
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	if _, err := agentArgs(s); err != nil {
		return err
	}
	if _, _, err := taskSize(s.Memory, s.NanoCPUs); err != nil {
		return err
	}
	defer p.timed("create", s.ID, time.Now())
	// functions creates the workload again before an attach or a start
	// of a container with no task (reconcileWorkload): this instance's
	// earlier Create already holds its definition.
	fp := fingerprint(s)
	p.mu.Lock()
	cd, ok := p.created[s.ID]
	p.mu.Unlock()
	if ok && fp != "" && cd.spec == fp {
		return nil
	}
	arn, err := p.ensureDefinition(ctx, s)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if fp != "" {
		p.created[s.ID] = createdDef{arn: arn, spec: fp}
	}
	p.mu.Unlock()
	return nil
}

// timed logs at debug level how long op on container id took since t0:
// the breakdown BenchmarkAWSRunRm's BENCH_AWS_LOG_DIR collects.
func (p *Provider) timed(op, id string, t0 time.Time) {
	p.log.Debug("ecs: timing", "op", op, "container", id, "ms", time.Since(t0).Milliseconds())
}

// startedBy is how a container's tasks are found: its id, cut to what
// RunTask accepts.
func startedBy(id string) string {
	if len(id) > 36 {
		return id[:36]
	}
	return id
}

// Start runs the task and waits for its agent.
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	defer p.timed("start", s.ID, time.Now())
	t0 := time.Now()
	// The definition this instance's Create resolved, when it had the
	// create: the image is the one resolved at create, as with Docker.
	p.mu.Lock()
	cd, ok := p.created[s.ID]
	p.mu.Unlock()
	arn := cd.arn
	if fp := fingerprint(s); !ok || fp == "" || cd.spec != fp {
		var err error
		if arn, err = p.ensureDefinition(ctx, s); err != nil {
			return err
		}
	}
	p.timed("start/definition", s.ID, t0)
	p.mu.Lock()
	prev := p.tasks[s.ID]
	p.mu.Unlock()
	if prev != "" && p.opts.Config.ExitedHold > 0 {
		// The previous run's task may still hold its exited files: the
		// container's files are the new run's now. (Started from another
		// instance, it ends when this run's exit takes its relay name, or
		// at its bound.)
		_, _ = p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(p.opts.Config.Cluster), Task: aws.String(prev), Reason: aws.String("docker start")})
	}
	out, err := p.runTask(ctx, s, arn)
	if isInactive(err) {
		// Another instance deregistered the shared definition (its last
		// container was removed): register it again, once.
		p.mu.Lock()
		delete(p.defs, familyOf(arn))
		p.mu.Unlock()
		if arn, err = p.ensureDefinition(ctx, s); err != nil {
			return err
		}
		out, err = p.runTask(ctx, s, arn)
	}
	if err != nil {
		return classify("run task", err)
	}
	if len(out.Tasks) == 0 {
		reason := "no task started"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason) + " " + aws.ToString(out.Failures[0].Detail)
		}
		return errdefs.Unavailablef("ecs: run task: %s", reason)
	}
	p.timed("start/runtask", s.ID, t0)
	taskArn := aws.ToString(out.Tasks[0].TaskArn)
	p.mu.Lock()
	p.tasks[s.ID] = taskArn
	p.mu.Unlock()
	if err := p.waitAgent(ctx, s.ID, taskArn); err != nil {
		_, _ = p.ecs.StopTask(context.WithoutCancel(ctx), &ecs.StopTaskInput{Cluster: aws.String(p.opts.Config.Cluster), Task: aws.String(taskArn), Reason: aws.String("sockerless: start failed")})
		return err
	}
	return nil
}

func isInactive(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ClientException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "inactive")
}

// runTask runs one task of definition arn for s.
func (p *Provider) runTask(ctx context.Context, s providers.Spec, arn string) (*ecs.RunTaskOutput, error) {
	assign := types.AssignPublicIpDisabled
	if p.opts.Config.AssignPublicIP {
		assign = types.AssignPublicIpEnabled
	}
	return p.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(p.opts.Config.Cluster), TaskDefinition: aws.String(arn), LaunchType: types.LaunchTypeFargate,
		Count: aws.Int32(1), StartedBy: aws.String(startedBy(s.ID)),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: p.opts.Config.Subnets, SecurityGroups: p.opts.Config.SecurityGroups, AssignPublicIp: assign,
		}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String(ContainerName),
			Environment: []types.KeyValuePair{
				{Name: aws.String("SOCKERLESS_CONTAINER_ID"), Value: aws.String(s.ID)},
				{Name: aws.String("SOCKERLESS_AGENT_TOKEN"), Value: aws.String(ticket.AgentToken(p.opts.Secret, s.ID))},
				{Name: aws.String("SOCKERLESS_EXITED_TOKEN"), Value: aws.String(ticket.AgentToken(p.opts.Secret, ticket.ExitedContainer(s.ID)))},
			},
		}}},
	})
}

// waitAgent waits for the agent of id, failing when the task stops first.
func (p *Provider) waitAgent(ctx context.Context, id, taskArn string) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	agentErr := make(chan error, 1)
	go func() { agentErr <- p.opts.Link.WaitAgent(ctx, id) }()
	// DescribeTasks only tells a task that stopped before its agent came
	// (a failed pull): asked soon, then less often.
	delay := min(50*time.Millisecond, p.opts.PollInterval)
	tick := time.NewTimer(delay)
	defer tick.Stop()
	for {
		select {
		case err := <-agentErr:
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return errdefs.Unavailablef("ecs: the agent of task %s did not reach the relay within %s", taskArn, p.opts.StartTimeout)
			}
			return err
		case <-tick.C:
			delay = min(delay*2, p.opts.PollInterval)
			tick.Reset(delay)
			t, err := p.describe(ctx, taskArn)
			if err != nil {
				continue // the agent may still come; the timeout bounds this
			}
			if aws.ToString(t.LastStatus) == "STOPPED" {
				return stoppedError(t)
			}
		}
	}
}

// stoppedError explains a task that stopped before its agent connected.
func stoppedError(t *types.Task) error {
	reason := aws.ToString(t.StoppedReason)
	for _, c := range t.Containers {
		if r := aws.ToString(c.Reason); r != "" {
			reason = r
		}
	}
	if strings.Contains(reason, "CannotPullContainerError") && strings.Contains(strings.ToLower(reason), "not found") {
		return errdefs.NotFound(fmt.Errorf("ecs: task stopped before start: %s", reason))
	}
	return errdefs.Unavailable(fmt.Errorf("ecs: task stopped before its agent connected: %s", reason))
}

func (p *Provider) describe(ctx context.Context, taskArn string) (*types.Task, error) {
	out, err := p.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(p.opts.Config.Cluster), Tasks: []string{taskArn}})
	if err != nil {
		return nil, classify("describe tasks", err)
	}
	if len(out.Tasks) == 0 {
		return nil, errdefs.NotFoundf("ecs: task %s not found", taskArn)
	}
	return &out.Tasks[0], nil
}

// exitOf is the Docker exit code of a stopped task: its container's, or
// 137 for a task killed without one (out of memory, never started).
func exitOf(t *types.Task) (code int, oom bool) {
	code = 137
	for _, c := range t.Containers {
		if strings.HasPrefix(aws.ToString(c.Reason), "OutOfMemoryError") {
			oom = true
		}
		if c.ExitCode != nil {
			code = int(*c.ExitCode)
		}
	}
	if oom {
		code = 137
	}
	return code, oom
}

// latestTask describes container id's newest task, asking ECS every time
// (another instance may have restarted the container since this one
// cached a task).
//
// # Errors
//
// NotFound when the container has no task ECS knows.
func (p *Provider) latestTask(ctx context.Context, id string) (*types.Task, error) {
	var arns []string
	for _, st := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		out, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(p.opts.Config.Cluster), StartedBy: aws.String(startedBy(id)), DesiredStatus: st})
		if err != nil {
			return nil, classify("list tasks", err)
		}
		arns = append(arns, out.TaskArns...)
	}
	if len(arns) == 0 {
		return nil, errdefs.NotFoundf("ecs: no task for container %s", id)
	}
	if len(arns) > 100 {
		arns = arns[len(arns)-100:]
	}
	out, err := p.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(p.opts.Config.Cluster), Tasks: arns})
	if err != nil {
		return nil, classify("describe tasks", err)
	}
	var best *types.Task
	for i, t := range out.Tasks {
		if best == nil || (t.CreatedAt != nil && best.CreatedAt != nil && t.CreatedAt.After(*best.CreatedAt)) {
			best = &out.Tasks[i]
		}
	}
	if best == nil {
		return nil, errdefs.NotFoundf("ecs: no task for container %s", id)
	}
	return best, nil
}

// Exists implements providers.Inspector: container id's newest task has
// not stopped. A container with no task has no workload (its task
// definition is registered again by Create and Start). The sweep asks it,
// so no process of this provider watches tasks.
func (p *Provider) Exists(ctx context.Context, id string) (bool, error) {
	defer p.timed("exists", id, time.Now())
	t, err := p.latestTask(ctx, id)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return aws.ToString(t.LastStatus) != "STOPPED", nil
}

// ExitOf implements providers.ExitInspector: how container id's newest
// task ended, from DescribeTasks (its container's exit code and reason;
// OutOfMemoryError is 137 with OOMKilled). ok is false while the task has
// not stopped, or when ECS has forgotten it.
func (p *Provider) ExitOf(ctx context.Context, id string) (providers.Exit, bool, error) {
	defer p.timed("exitof", id, time.Now())
	t, err := p.latestTask(ctx, id)
	if errdefs.IsNotFound(err) {
		return providers.Exit{}, false, nil
	}
	if err != nil || aws.ToString(t.LastStatus) != "STOPPED" {
		return providers.Exit{}, false, err
	}
	code, oom := exitOf(t)
	e := providers.Exit{Code: code, OOMKilled: oom, Reason: aws.ToString(t.StoppedReason)}
	for _, c := range t.Containers {
		if r := aws.ToString(c.Reason); r != "" {
			e.Reason = r
		}
	}
	if t.StoppedAt != nil {
		e.At = *t.StoppedAt
	}
	if oom {
		p.log.Warn("task killed: out of memory", "container", id, "task", aws.ToString(t.TaskArn))
	}
	return e, true, nil
}

// taskOf finds the latest task of container id.
func (p *Provider) taskOf(ctx context.Context, id string) (string, error) {
	p.mu.Lock()
	arn, ok := p.tasks[id]
	p.mu.Unlock()
	if ok {
		return arn, nil
	}
	for _, st := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		out, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(p.opts.Config.Cluster), StartedBy: aws.String(startedBy(id)), DesiredStatus: st})
		if err != nil {
			return "", classify("list tasks", err)
		}
		if len(out.TaskArns) > 0 {
			arn = out.TaskArns[len(out.TaskArns)-1]
			if len(out.TaskArns) > 1 {
				// Restarts leave several: the newest is the container's.
				arn = p.newest(ctx, out.TaskArns, arn)
			}
			p.mu.Lock()
			p.tasks[id] = arn
			p.mu.Unlock()
			return arn, nil
		}
	}
	return "", errdefs.NotFoundf("ecs: no task for container %s", id)
}

// newest returns the most recently created of tasks (def when they cannot
// be described).
func (p *Provider) newest(ctx context.Context, tasks []string, def string) string {
	if len(tasks) > 100 {
		tasks = tasks[len(tasks)-100:]
	}
	out, err := p.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(p.opts.Config.Cluster), Tasks: tasks})
	if err != nil {
		return def
	}
	var best time.Time
	for _, t := range out.Tasks {
		if t.CreatedAt != nil && t.CreatedAt.After(best) {
			best, def = *t.CreatedAt, aws.ToString(t.TaskArn)
		}
	}
	return def
}

// Stop sends SIGTERM through the agent and, after timeout, stops the task
// (SIGKILL); it returns once the task has stopped.
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	defer p.timed("stop", id, time.Now())
	arn, err := p.taskOf(ctx, id)
	if err != nil {
		return err
	}
	if timeout > 0 {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		_ = p.opts.Link.Signal(sctx, id, 15)
		err := p.waitStopped(sctx, arn)
		cancel()
		if err == nil {
			return nil
		}
	} else {
		// SIGKILL through the agent, so it reports 137 itself.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := p.opts.Link.Signal(sctx, id, 9)
		if err == nil {
			err = p.waitStopped(sctx, arn)
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	if _, err := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(p.opts.Config.Cluster), Task: aws.String(arn), Reason: aws.String("docker stop")}); err != nil {
		return classify("stop task", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return p.waitStopped(wctx, arn)
}

func (p *Provider) waitStopped(ctx context.Context, arn string) error {
	delay := min(25*time.Millisecond, p.opts.PollInterval/4)
	for {
		t, err := p.describe(ctx, arn)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err == nil && aws.ToString(t.LastStatus) == "STOPPED" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, p.opts.PollInterval/4)
	}
}

// Kill sends signal n to the main process through the agent; a SIGKILL
// the agent cannot take stops the task.
func (p *Provider) Kill(ctx context.Context, id string, n int) error {
	defer p.timed("kill", id, time.Now())
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := p.opts.Link.Signal(sctx, id, n)
	cancel()
	if err == nil || n != 9 {
		return err
	}
	arn, terr := p.taskOf(ctx, id)
	if terr != nil {
		return terr
	}
	_, serr := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(p.opts.Config.Cluster), Task: aws.String(arn), Reason: aws.String("docker kill")})
	return classify("stop task", serr)
}

// Remove stops the container's task if it still runs and deregisters its
// task definition (a later create of the same content registers a new
// revision).
func (p *Provider) Remove(ctx context.Context, id string) error {
	defer p.timed("remove", id, time.Now())
	p.mu.Lock()
	delete(p.created, id)
	p.mu.Unlock()
	arn, err := p.taskOf(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := p.describe(ctx, arn)
	if err == nil && aws.ToString(t.LastStatus) != "STOPPED" {
		if _, err := p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(p.opts.Config.Cluster), Task: aws.String(arn), Reason: aws.String("docker rm")}); err != nil {
			return classify("stop task", err)
		}
	}

	// The task definition stays for the next container of the same image
	// and settings; Tidy deregisters it once no task has used it lately.
	p.mu.Lock()
	delete(p.tasks, id)
	p.mu.Unlock()
	return nil
}

// ExitedFilesFor implements providers.ExitedFiles: a task whose main
// process ended by itself stays Config.ExitedHold, its agent serving the
// container's files under ticket.ExitedContainer(id).
func (p *Provider) ExitedFilesFor() time.Duration { return p.opts.Config.ExitedHold }

func familyOf(defArn string) string {
	s := defArn[strings.LastIndex(defArn, "/")+1:]
	f, _, _ := strings.Cut(s, ":")
	return f
}

// Logs reads the task's CloudWatch Logs stream. The cursor is the
// stream's forward token.
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	defer p.timed("logs", id, time.Now())
	arn, err := p.taskOf(ctx, id)
	if err != nil {
		return providers.LogPage{}, err
	}
	stream := StreamPrefix + "/" + ContainerName + "/" + arn[strings.LastIndex(arn, "/")+1:]
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(p.opts.Config.LogGroup), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)}
	if opts.After != "" {
		in.NextToken = aws.String(opts.After)
	}
	if !opts.Since.IsZero() {
		in.StartTime = aws.Int64(opts.Since.UnixMilli())
	}
	if !opts.Until.IsZero() {
		in.EndTime = aws.Int64(opts.Until.UnixMilli())
	}
	page := providers.LogPage{Cursor: opts.After}
	size := 0
	for {
		out, err := p.logs.GetLogEvents(ctx, in)
		var nf *cwtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return page, nil // no output yet
		}
		if err != nil {
			return page, classify("get log events", err)
		}
		for _, e := range out.Events {
			stream, data := agent.ParseTaggedLine([]byte(aws.ToString(e.Message)))
			page.Entries = append(page.Entries, providers.LogEntry{Stream: stream, Time: time.UnixMilli(aws.ToInt64(e.Timestamp)), Data: data})
			size += len(data)
		}
		next := aws.ToString(out.NextForwardToken)
		if next == "" || next == aws.ToString(in.NextToken) || len(out.Events) == 0 {
			if next != "" {
				page.Cursor = next
			}
			break
		}
		page.Cursor = next
		in.NextToken = aws.String(next)
		if opts.MaxBytes > 0 && size >= opts.MaxBytes && opts.Tail <= 0 {
			page.More = true
			break
		}
	}
	if opts.Tail > 0 && len(page.Entries) > opts.Tail {
		page.Entries = page.Entries[len(page.Entries)-opts.Tail:]
	}
	return page, nil
}
