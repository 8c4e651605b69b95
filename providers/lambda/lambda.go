// Package lambda is the AWS Lambda provider (SOCKERLESS_PROVIDER=lambda):
// each container is a container-image function whose image is the user's
// image with the sockerless agent appended (package cloudagent), and the
// agent is the function's runtime: it takes one invocation from the
// Lambda Runtime API, runs the container's command for it (or keeps the
// environment alive for exec), serves exec, attach and cp through the
// relay, reports the exit to functions and answers the invocation with
// the exit code.
//
// Lambda's limits are refused at create as Docker errors: memory outside
// 128-10,240 MB, images over 10 GB, a run limit (label
// sockerless.lambda.timeout, seconds) over Lambda's 15-minute maximum.
// Every start is one invocation, so a container runs at most 15 minutes.
// Logs come from the function's CloudWatch Logs group; Lambda's own
// START/END/REPORT lines are left out.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/sockerless/sockerless/agent"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/cloudagent"
	"github.com/sockerless/sockerless/relay/ticket"
)

// Config is the provider's deployment configuration, read by
// cmd/sockerless-functions from SOCKERLESS_* variables.
type Config struct {
	RoleARN         string `env:"LAMBDA_ROLE_ARN" help:"execution role of the container functions; required for SOCKERLESS_PROVIDER=lambda"`
	Repository      string `env:"ECR_REPOSITORY" help:"ECR repository URI the agent-injected images are pushed to; required"`
	AgentBinary     string `env:"AGENT_BINARY" help:"path of the static linux sockerless-agent to inject; default sockerless-agent next to this executable"`
	ControlPlaneURL string `env:"CONTROL_PLANE_URL" help:"URL agents report exits to (this functions endpoint); default http://127.0.0.1:PORT when serving on PORT"`
	NamePrefix      string `env:"NAME_PREFIX" help:"start of the names of the functions (and ECS task definitions) made for workloads: the deployment's name prefix, which its IAM statements are scoped to; default sockerless"`
}

// Validate checks the configuration, naming the variable at fault.
func (c Config) Validate(prefix string) error {
	if !strings.HasPrefix(c.RoleARN, "arn:") || !strings.Contains(c.RoleARN, ":role/") {
		return fmt.Errorf("%sLAMBDA_ROLE_ARN=%q: want the ARN of an IAM role (required for SOCKERLESS_PROVIDER=lambda)", prefix, c.RoleARN)
	}
	if c.Repository == "" || strings.Contains(c.Repository, "://") || !strings.Contains(c.Repository, "/") {
		return fmt.Errorf("%sECR_REPOSITORY=%q: want a repository URI, HOST/NAME (required for SOCKERLESS_PROVIDER=lambda)", prefix, c.Repository)
	}
	if err := cloudagent.CheckNamePrefix(prefix+"NAME_PREFIX", c.NamePrefix); err != nil {
		return err
	}
	if c.ControlPlaneURL != "" {
		if u, err := url.Parse(c.ControlPlaneURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%sCONTROL_PLANE_URL=%q: want an http(s) URL", prefix, c.ControlPlaneURL)
		}
	}
	return nil
}

// Limits Lambda sets.
const (
	MinMemoryMB   = 128
	MaxMemoryMB   = 10240
	MaxTimeout    = 900 // seconds
	MaxImageBytes = 10 << 30
	// DefaultMemoryMB is used when the container sets no memory limit.
	DefaultMemoryMB = 1024
	// TimeoutLabel sets a container's run limit in seconds (default and
	// maximum 900).
	TimeoutLabel = "sockerless.lambda.timeout"
)

// Options configures a Provider.
type Options struct {
	Config   Config
	AWS      aws.Config
	Injector *cloudagent.Injector
	Link     cloudagent.Link
	Secret   []byte
	RelayURL string
	Logger   *slog.Logger
	// StartTimeout bounds a start (default 5 min).
	StartTimeout time.Duration
	// PollInterval is the longest wait between reads of the log while a
	// start waits for the agent (default 1 s; the first read comes after
	// 50 ms and the wait doubles up to it).
	PollInterval time.Duration
	// AgentProbe bounds the wait for an agent's answer when asking whether
	// an invocation still runs and the relay cannot answer presence
	// (default 3 s).
	AgentProbe time.Duration
}

// Provider runs containers as Lambda functions. Safe for concurrent use.
type Provider struct {
	opts   Options
	lambda *awslambda.Client
	logs   *cloudwatchlogs.Client
	log    *slog.Logger
}

// New returns a Lambda provider.
func New(opts Options) (*Provider, error) {
	if opts.Injector == nil || opts.Link.Dialer == nil || len(opts.Secret) == 0 || opts.RelayURL == "" {
		return nil, errors.New("lambda: Injector, Link, Secret and RelayURL are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	return &Provider{opts: opts, lambda: awslambda.NewFromConfig(opts.AWS), logs: cloudwatchlogs.NewFromConfig(opts.AWS),
		log: opts.Logger}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return "lambda" }

// FunctionName is the function of container id in a deployment whose
// name prefix is prefix (empty: cloudagent.DefaultNamePrefix): the prefix,
// a hyphen and as much of the id (up to 48 characters) as Lambda's
// 64-character limit leaves.
func FunctionName(prefix, id string) string {
	prefix = cloudagent.NamePrefixOr(prefix)
	if n := min(48, 63-len(prefix)); len(id) > n {
		id = id[:n]
	}
	return prefix + "-" + id
}

// functionName is the function of container id in this deployment.
func (p *Provider) functionName(id string) string { return FunctionName(p.opts.Config.NamePrefix, id) }

func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			return errdefs.NotFound(fmt.Errorf("lambda: %s: %s", what, ae.ErrorMessage()))
		case "InvalidParameterValueException", "ValidationException", "InvalidRequestContentException":
			return errdefs.InvalidParameter(fmt.Errorf("lambda: %s: %s", what, ae.ErrorMessage()))
		case "ResourceConflictException":
			return errdefs.Conflict(fmt.Errorf("lambda: %s: %s", what, ae.ErrorMessage()))
		case "AccessDeniedException":
			return errdefs.Forbidden(fmt.Errorf("lambda: %s: %s", what, ae.ErrorMessage()))
		}
		return errdefs.Unavailable(fmt.Errorf("lambda: %s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage()))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errdefs.Unavailable(fmt.Errorf("lambda: %s: %w", what, err))
}

// limits checks s against Lambda's limits.
func limits(s providers.Spec) (memMB, timeout int, err error) {
	memMB = DefaultMemoryMB
	if s.Memory > 0 {
		memMB = int((s.Memory + (1<<20 - 1)) >> 20)
		if memMB < MinMemoryMB || memMB > MaxMemoryMB {
			return 0, 0, errdefs.InvalidParameterf("lambda: a function has %d to %d MB of memory; the container asks for %d MB", MinMemoryMB, MaxMemoryMB, memMB)
		}
	}
	timeout = MaxTimeout
	if v, ok := s.Labels[TimeoutLabel]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTimeout {
			return 0, 0, errdefs.InvalidParameterf("lambda: label %s=%q: want 1 to %d seconds (Lambda's 15-minute maximum)", TimeoutLabel, v, MaxTimeout)
		}
		timeout = n
	}
	return memMB, timeout, nil
}

func agentArgs(s providers.Spec) ([]string, error) {
	argv := append(append([]string(nil), s.Entrypoint...), s.Cmd...)
	if len(argv) == 0 {
		return nil, errdefs.InvalidParameterf("no command specified")
	}
	base := argv[0][strings.LastIndex(argv[0], "/")+1:]
	if (base == "tail" && len(argv) == 3 && argv[1] == "-f" && argv[2] == "/dev/null") || (base == "sleep" && len(argv) == 2 && argv[1] == "infinity") {
		return []string{"--keep-alive"}, nil
	}
	return append([]string{"--"}, argv...), nil
}

// Create injects the agent and creates the function.
func (p *Provider) Create(ctx context.Context, s providers.Spec) error {
	defer p.timed("create", s.ID, time.Now())
	args, err := agentArgs(s)
	if err != nil {
		return err
	}
	memMB, timeout, err := limits(s)
	if err != nil {
		return err
	}
	t0 := time.Now()
	inj, err := p.opts.Injector.Inject(ctx, s.Image)
	if err != nil {
		return err
	}
	p.timed("create/inject", s.ID, t0)
	if inj.Size > MaxImageBytes {
		return errdefs.InvalidParameterf("lambda: the image is %d MB; a function's image can be at most 10 GB", inj.Size>>20)
	}
	// The container's environment travels as one variable the agent
	// expands: Lambda refuses names Docker accepts (single letters,
	// reserved AWS_ names).
	var userEnv []string
	for _, kv := range s.Env {
		if !strings.HasPrefix(kv, "SOCKERLESS_") {
			userEnv = append(userEnv, kv)
		}
	}
	envJSON, err := json.Marshal(userEnv)
	if err != nil {
		return err
	}
	vars := map[string]string{"SOCKERLESS_ENV": string(envJSON)}
	vars["SOCKERLESS_RELAY_URL"] = p.opts.RelayURL
	vars["SOCKERLESS_CONTAINER_ID"] = s.ID
	vars["SOCKERLESS_AGENT_TOKEN"] = ticket.AgentToken(p.opts.Secret, s.ID)
	vars["SOCKERLESS_LAMBDA_RUNTIME"] = "true"
	vars["SOCKERLESS_LOG_TAGS"] = "true"
	vars["SOCKERLESS_TTY"] = strconv.FormatBool(s.Tty)
	if p.opts.Config.ControlPlaneURL != "" {
		vars["SOCKERLESS_CONTROL_PLANE_URL"] = p.opts.Config.ControlPlaneURL
	}
	vars["SOCKERLESS_OPEN_STDIN"] = strconv.FormatBool(s.OpenStdin)
	if s.StdinOnce {
		vars["SOCKERLESS_STDIN_ONCE"] = "true"
	}
	if s.User != "" {
		vars["SOCKERLESS_USER"] = s.User
	}
	if s.Healthcheck != nil {
		hc, err := json.Marshal(s.Healthcheck)
		if err != nil {
			return err
		}
		vars["SOCKERLESS_HEALTHCHECK"] = string(hc)
	}
	ic := &types.ImageConfig{EntryPoint: []string{cloudagent.AgentPath}, Command: args}
	if s.WorkingDir != "" {
		ic.WorkingDirectory = aws.String(s.WorkingDir)
	}
	_, err = p.lambda.CreateFunction(ctx, &awslambda.CreateFunctionInput{
		FunctionName: aws.String(p.functionName(s.ID)), Role: aws.String(p.opts.Config.RoleARN), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String(inj.Ref)}, ImageConfig: ic,
		Environment: &types.Environment{Variables: vars}, MemorySize: aws.Int32(int32(memMB)), Timeout: aws.Int32(int32(timeout)),
		Tags: map[string]string{"sockerless-container": s.ID},
	})
	if err != nil {
		return classify("create function", err)
	}
	// A run is one asynchronous invocation (Start): Lambda must never run
	// it again by itself, as it would after a runtime crash by default
	// (two retries).
	if _, err := p.lambda.PutFunctionEventInvokeConfig(ctx, &awslambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String(p.functionName(s.ID)), MaximumRetryAttempts: aws.Int32(0),
	}); err != nil {
		_, _ = p.lambda.DeleteFunction(context.WithoutCancel(ctx), &awslambda.DeleteFunctionInput{FunctionName: aws.String(p.functionName(s.ID))})
		return classify("put function event invoke config", err)
	}
	return nil
}

// waitActive waits for a new function to leave Pending (Lambda prepares
// its image first); invoking it before answers a conflict.
func (p *Provider) waitActive(ctx context.Context, fn string) error {
	delay := 50 * time.Millisecond
	for {
		out, err := p.lambda.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(fn)})
		if err != nil {
			return classify("get function", err)
		}
		switch out.Configuration.State {
		case types.StateActive:
			return nil
		case types.StateFailed, types.StateInactive:
			return errdefs.Unavailablef("lambda: function %s is %s: %s", fn, out.Configuration.State, aws.ToString(out.Configuration.StateReason))
		}
		select {
		case <-ctx.Done():
			return errdefs.Unavailablef("lambda: function %s still %s", fn, out.Configuration.State)
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// Start invokes the function asynchronously (InvocationType Event, with
// no retries: Create sets MaximumRetryAttempts 0) and waits for its agent. Nothing of the
// invocation outlives the request: the agent reports the exit, and an
// exit it could not report is found by the sweep (Exists, ExitOf).
func (p *Provider) Start(ctx context.Context, s providers.Spec) error {
	defer p.timed("start", s.ID, time.Now())
	t0 := time.Now()
	fn := p.functionName(s.ID)
	actx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	err := p.waitActive(actx, fn)
	cancel()
	if err != nil {
		return err
	}
	if _, err := p.lambda.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}); err != nil {
		return classify("invoke", err)
	}
	p.timed("start/invoked", s.ID, t0)
	wctx, cancel := context.WithTimeout(ctx, p.opts.StartTimeout)
	defer cancel()
	agentErr := make(chan error, 1)
	go func() { agentErr <- p.opts.Link.WaitAgent(wctx, s.ID) }()
	// The log only tells an invocation that ended before its agent came:
	// read soon, then less often.
	delay := min(50*time.Millisecond, p.pollInterval())
	tick := time.NewTimer(delay)
	defer tick.Stop()
	for {
		select {
		case err := <-agentErr:
			if err != nil && wctx.Err() != nil {
				return errdefs.Unavailablef("lambda: the agent of function %s did not reach the relay within %s", fn, p.opts.StartTimeout)
			}
			return err
		case <-tick.C:
			delay = min(delay*2, p.pollInterval())
			tick.Reset(delay)
			// An invocation that ended before its agent connected (a bad
			// entry point, a crash) fails the start with Lambda's words.
			if inv, err := p.lastInvocation(wctx, s.ID); err == nil && inv.ended && inv.failure != "" {
				return errdefs.Unavailablef("lambda: the invocation ended before its agent connected: %s", inv.failure)
			}
		}
	}
}

// timed logs at debug level how long op on container id took since t0:
// the breakdown BenchmarkAWSRunRm's BENCH_AWS_LOG_DIR collects.
func (p *Provider) timed(op, id string, t0 time.Time) {
	p.log.Debug("lambda: timing", "op", op, "container", id, "ms", time.Since(t0).Milliseconds())
}

func (p *Provider) pollInterval() time.Duration {
	if p.opts.PollInterval > 0 {
		return p.opts.PollInterval
	}
	return time.Second
}

// agentUp reports whether container id's agent is reachable through the
// relay: an invocation's agent lives as long as it. The relay's presence
// answer says so at once; only when the relay cannot give it does the
// provider wait up to AgentProbe for the agent to answer a stat.
func (p *Provider) agentUp(ctx context.Context, id string) bool {
	if up, err := p.opts.Link.Connected(ctx, id); err == nil {
		return up
	}
	ctx, cancel := context.WithTimeout(ctx, p.agentProbe())
	defer cancel()
	return p.opts.Link.WaitAgent(ctx, id) == nil
}

func (p *Provider) agentProbe() time.Duration {
	if p.opts.AgentProbe > 0 {
		return p.opts.AgentProbe
	}
	return 3 * time.Second
}

// invocation is what the function's log says of its latest invocation.
type invocation struct {
	// started: a START line was seen; ended: its END line too.
	started, ended bool
	// failure is Lambda's error line for it ("Task timed out...",
	// "Runtime exited with error: ..."), empty when none.
	failure string
	// code is the exit code that ending stands for (137 for a kill or a
	// timeout, N for "exit status N"); oom is an out-of-memory end.
	code int
	oom  bool
	at   time.Time
}

var exitStatus = regexp.MustCompile(`Runtime exited with error: exit status (\d+)`)

// lastInvocation reads the newest log stream of container id's function
// (one stream per execution environment, one invocation per container
// run) for its latest invocation's START, END and error lines.
func (p *Provider) lastInvocation(ctx context.Context, id string) (invocation, error) {
	group := "/aws/lambda/" + p.functionName(id)
	out, err := p.logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	var nf *cwtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return invocation{}, nil
	}
	if err != nil {
		return invocation{}, classify("describe log streams", err)
	}
	var streams []string
	for _, s := range out.LogStreams {
		streams = append(streams, aws.ToString(s.LogStreamName))
	}
	if len(streams) == 0 {
		return invocation{}, nil
	}
	sort.Strings(streams)
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(streams[len(streams)-1]), StartFromHead: aws.Bool(true)}
	var inv invocation
	for {
		ev, err := p.logs.GetLogEvents(ctx, in)
		if err != nil {
			return invocation{}, classify("get log events", err)
		}
		for _, e := range ev.Events {
			msg := aws.ToString(e.Message)
			switch {
			case strings.HasPrefix(msg, "START RequestId:"):
				inv = invocation{started: true}
			case strings.HasPrefix(msg, "END RequestId:"):
				inv.ended, inv.at = true, time.UnixMilli(aws.ToInt64(e.Timestamp))
			case strings.Contains(msg, "Runtime.OutOfMemory"):
				inv.failure, inv.oom = strings.TrimSpace(msg), true
			case strings.HasPrefix(msg, "INIT_REPORT Status: error"):
				// The runtime never started: the invocation is over.
				inv.failure, inv.ended, inv.at = strings.TrimSpace(msg), true, time.UnixMilli(aws.ToInt64(e.Timestamp))
			case strings.Contains(msg, "Task timed out"), strings.Contains(msg, "Runtime exited with error"):
				if !inv.oom {
					inv.failure = strings.TrimSpace(msg)
				}
			}
		}
		tok := aws.ToString(ev.NextForwardToken)
		if tok == "" || tok == aws.ToString(in.NextToken) || len(ev.Events) == 0 {
			break
		}
		in.NextToken = aws.String(tok)
	}
	inv.code = 137
	if m := exitStatus.FindStringSubmatch(inv.failure); m != nil && !inv.oom {
		inv.code, _ = strconv.Atoi(m[1])
	}
	return inv, nil
}

// Exists implements providers.Inspector: container id's invocation still
// runs. Its agent answering through the relay says so at once; an agent
// that does not answer is gone only once the function's log shows the
// invocation's END (a relay reconnect or a late log is never taken for an
// exit). A container never invoked has only its function, which Create
// makes again if it is missing.
func (p *Provider) Exists(ctx context.Context, id string) (bool, error) {
	defer p.timed("exists", id, time.Now())
	if p.agentUp(ctx, id) {
		return true, nil
	}
	inv, err := p.lastInvocation(ctx, id)
	if err != nil {
		return false, err
	}
	if !inv.started {
		_, err := p.lambda.GetFunction(ctx, &awslambda.GetFunctionInput{FunctionName: aws.String(p.functionName(id))})
		if err = classify("get function", err); errdefs.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
	return !inv.ended, nil
}

// ExitOf implements providers.ExitInspector: how container id's latest
// invocation ended without its agent's report, from the function's log:
// a timeout or a killed runtime is 137, "Runtime exited with error: exit
// status N" is N, and Runtime.OutOfMemory is 137 with OOMKilled.
func (p *Provider) ExitOf(ctx context.Context, id string) (providers.Exit, bool, error) {
	defer p.timed("exitof", id, time.Now())
	inv, err := p.lastInvocation(ctx, id)
	if err != nil || !inv.ended {
		return providers.Exit{}, false, err
	}
	return providers.Exit{Code: inv.code, OOMKilled: inv.oom, At: inv.at, Reason: inv.failure}, true, nil
}

// waitGone waits until container id's agent no longer answers, or ctx
// ends.
func (p *Provider) waitGone(ctx context.Context, id string) error {
	delay := min(25*time.Millisecond, p.pollInterval()/4)
	for p.agentUp(ctx, id) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, p.pollInterval()/4)
	}
	return nil
}

// Stop sends SIGTERM through the agent and SIGKILL after timeout (Lambda
// has no API to end a running invocation).
func (p *Provider) Stop(ctx context.Context, id string, timeout time.Duration) error {
	defer p.timed("stop", id, time.Now())
	if timeout > 0 {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		_ = p.opts.Link.Signal(sctx, id, 15)
		err := p.waitGone(sctx, id)
		cancel()
		if err == nil {
			return nil
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.opts.Link.Signal(sctx, id, 9); err != nil {
		return err
	}
	_ = p.waitGone(sctx, id)
	return nil
}

// Kill sends signal n through the agent.
func (p *Provider) Kill(ctx context.Context, id string, n int) error {
	defer p.timed("kill", id, time.Now())
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.opts.Link.Signal(sctx, id, n)
}

// Remove deletes the function (which ends a running invocation).
func (p *Provider) Remove(ctx context.Context, id string) error {
	defer p.timed("remove", id, time.Now())
	_, err := p.lambda.DeleteFunction(ctx, &awslambda.DeleteFunctionInput{FunctionName: aws.String(p.functionName(id))})
	if err = classify("delete function", err); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// Logs reads the function's log group, stream after stream. The cursor is
// "STREAM|TOKEN".
func (p *Provider) Logs(ctx context.Context, id string, opts providers.LogOptions) (providers.LogPage, error) {
	defer p.timed("logs", id, time.Now())
	group := "/aws/lambda/" + p.functionName(id)
	var streams []string
	var next *string
	for {
		out, err := p.logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group), NextToken: next})
		var nf *cwtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return providers.LogPage{Cursor: opts.After}, nil
		}
		if err != nil {
			return providers.LogPage{}, classify("describe log streams", err)
		}
		for _, s := range out.LogStreams {
			streams = append(streams, aws.ToString(s.LogStreamName))
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == aws.ToString(next) {
			break
		}
		next = out.NextToken
	}
	// Streams are named DATE/[$LATEST]ID; their creation order is the
	// order of first events.
	sort.Strings(streams)
	curStream, curToken, _ := strings.Cut(opts.After, "|")
	start := 0
	if curStream != "" {
		for i, s := range streams {
			if s == curStream {
				start = i
			}
		}
	}
	page := providers.LogPage{Cursor: opts.After}
	for i := start; i < len(streams); i++ {
		in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(streams[i]), StartFromHead: aws.Bool(true)}
		if i == start && streams[i] == curStream && curToken != "" {
			in.NextToken = aws.String(curToken)
		}
		if !opts.Since.IsZero() {
			in.StartTime = aws.Int64(opts.Since.UnixMilli())
		}
		if !opts.Until.IsZero() {
			in.EndTime = aws.Int64(opts.Until.UnixMilli())
		}
		for {
			out, err := p.logs.GetLogEvents(ctx, in)
			if err != nil {
				return page, classify("get log events", err)
			}
			for _, e := range out.Events {
				msg := []byte(aws.ToString(e.Message))
				if len(msg) < 2 || (msg[0] != '1' && msg[0] != '2') || (msg[1] != ' ' && msg[1] != '+') {
					continue // Lambda's own lines (START, END, REPORT) and the agent's diagnostics
				}
				st, data := agent.ParseTaggedLine(msg)
				page.Entries = append(page.Entries, providers.LogEntry{Stream: st, Time: time.UnixMilli(aws.ToInt64(e.Timestamp)), Data: data})
			}
			tok := aws.ToString(out.NextForwardToken)
			if tok != "" {
				page.Cursor = streams[i] + "|" + tok
			}
			if tok == "" || tok == aws.ToString(in.NextToken) || len(out.Events) == 0 {
				break
			}
			in.NextToken = aws.String(tok)
		}
	}
	if opts.Tail > 0 && len(page.Entries) > opts.Tail {
		page.Entries = page.Entries[len(page.Entries)-opts.Tail:]
	}
	return page, nil
}
