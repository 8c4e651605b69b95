package lambda

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"context"
	"errors"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sockerless/sockerless/integration/localcloud/ecsfake"
	"github.com/sockerless/sockerless/integration/localcloud/lambdafake"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/cloudagent"
)

// failingRunner cannot start any container.
type failingRunner struct {
	mu    sync.Mutex
	specs []ecsfake.ContainerSpec
}

func (r *failingRunner) Run(_ context.Context, c ecsfake.ContainerSpec, _ func(int, []byte)) (ecsfake.RunningContainer, error) {
	r.mu.Lock()
	r.specs = append(r.specs, c)
	r.mu.Unlock()
	return nil, errors.New("exec format error")
}

// logSink writes the fake's function logs to CloudWatch Logs (moto).
type logSink struct{ c *cloudwatchlogs.Client }

func (s logSink) Check(context.Context, string) error { return nil }

func (s logSink) Write(ctx context.Context, group, stream string, lines []ecsfake.LogLine) error {
	_, _ = s.c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	_, _ = s.c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	var evs []cwtypes.InputLogEvent
	for _, l := range lines {
		evs = append(evs, cwtypes.InputLogEvent{Message: aws.String(l.Text), Timestamp: aws.Int64(l.Time.UnixMilli())})
	}
	_, err := s.c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs})
	return err
}

type noAgent struct{}

func (noAgent) Dial(ctx context.Context, _, _ string) (io.ReadWriteCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type env struct {
	p      *Provider
	runner *failingRunner
	image  string
	other  string // an image in another registry
}

func setup(t *testing.T) env {
	t.Helper()
	push := func() (string, string) {
		reg := httptest.NewServer(registry.New())
		t.Cleanup(reg.Close)
		host := strings.TrimPrefix(reg.URL, "http://")
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(host + "/app:1")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		return host, ref.String()
	}
	ecrHost, image := push()
	_, other := push()
	runner := &failingRunner{}
	// CloudWatch Logs is moto's; Lambda is the fake's; one endpoint
	// routes each call by its API, as the SDK's one BaseEndpoint needs.
	moto, _ := url.Parse(emulators.StartMoto(t))
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	logsCfg := cfg
	logsCfg.BaseEndpoint = aws.String(moto.String())
	fake := lambdafake.New(lambdafake.Options{ECRHost: ecrHost, Runner: runner, Logs: logSink{cloudwatchlogs.NewFromConfig(logsCfg)}})
	t.Cleanup(fake.Close)
	toMoto := httputil.NewSingleHostReverseProxy(moto)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_") {
			toMoto.ServeHTTP(w, r)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	inj, err := cloudagent.NewInjector(cloudagent.InjectorOptions{Agent: []byte("agent"), Repository: ecrHost + "/sockerless"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Config: Config{RoleARN: "arn:aws:iam::123456789012:role/fn", Repository: ecrHost + "/sockerless"},
		AWS:      aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(srv.URL)},
		Injector: inj, Link: cloudagent.Link{Dialer: noAgent{}, RelayURL: "ws://127.0.0.1:1", Secret: []byte("s")},
		Secret: []byte("s"), RelayURL: "ws://127.0.0.1:1", StartTimeout: time.Minute, PollInterval: 50 * time.Millisecond, AgentProbe: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return env{p: p, runner: runner, image: image, other: other}
}

func spec(id, image string) providers.Spec {
	return providers.Spec{ID: id, Image: image, Cmd: []string{"sh", "-c", "echo hi"}, Env: []string{"A=1", "AWS_REGION=x"}}
}

func TestCreateLimits(t *testing.T) {
	e := setup(t)
	cases := []struct {
		name  string
		spec  func(providers.Spec) providers.Spec
		check func(error) bool
		want  string
	}{
		{"memory over 10240 MB", func(s providers.Spec) providers.Spec { s.Memory = 11 << 30; return s }, errdefs.IsInvalidParameter, "10240 MB"},
		{"memory under 128 MB", func(s providers.Spec) providers.Spec { s.Memory = 64 << 20; return s }, errdefs.IsInvalidParameter, "128 to"},
		{"timeout over 15 minutes", func(s providers.Spec) providers.Spec {
			s.Labels = map[string]string{TimeoutLabel: "901"}
			return s
		}, errdefs.IsInvalidParameter, "15-minute"},
		{"no command", func(s providers.Spec) providers.Spec { s.Cmd = nil; return s }, errdefs.IsInvalidParameter, "no command"},
		{"missing image", func(s providers.Spec) providers.Spec {
			s.Image = e.image[:strings.LastIndex(e.image, "/")] + "/nope:1"
			return s
		}, errdefs.IsNotFound, "no such image"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.p.Create(context.Background(), c.spec(spec(strings.Repeat(string(rune('a'+i)), 64), e.image)))
			if err == nil || !c.check(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Create() = %v, want a refusal mentioning %q", err, c.want)
			}
		})
	}
}

func TestCreateStartRemove(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	s := spec(strings.Repeat("f", 64), e.other) // from another registry: injected into ECR
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The run is one asynchronous invocation that Lambda must not retry.
	cfg, err := e.p.lambda.GetFunctionEventInvokeConfig(ctx, &awslambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(e.p.functionName(s.ID))})
	if err != nil || cfg.MaximumRetryAttempts == nil || *cfg.MaximumRetryAttempts != 0 {
		t.Fatalf("event invoke config = %+v, %v; want MaximumRetryAttempts 0", cfg, err)
	}
	if err := e.p.Create(ctx, s); !errdefs.IsConflict(err) {
		t.Fatalf("second Create() = %v, want Conflict (ResourceConflictException)", err)
	}
	// The runtime cannot start: the start fails with Lambda's error (the
	// asynchronous invocation's log) instead of waiting for an agent.
	err = e.p.Start(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "Runtime.InvalidEntrypoint") {
		t.Fatalf("Start() = %v, want the invocation's Runtime.InvalidEntrypoint", err)
	}
	// The sweep's questions, with no agent and the invocation's END in the
	// log: gone, having ended as a killed runtime.
	if ok, err := e.p.Exists(ctx, s.ID); ok || err != nil {
		t.Fatalf("Exists() after the invocation ended = %v, %v; want false", ok, err)
	}
	if ex, ok, err := e.p.ExitOf(ctx, s.ID); !ok || err != nil || ex.Code != 137 || ex.At.IsZero() || !strings.Contains(ex.Reason, "InvalidEntrypoint") {
		t.Fatalf("ExitOf() = %+v, %v, %v; want 137 with Lambda's reason", ex, ok, err)
	}
	e.runner.mu.Lock()
	c := e.runner.specs[0]
	e.runner.mu.Unlock()
	env := strings.Join(c.Env, " ")
	if c.Entrypoint[0] != cloudagent.AgentPath || strings.Join(c.Cmd, " ") != "-- sh -c echo hi" || c.MemoryBytes != DefaultMemoryMB<<20 ||
		!strings.Contains(env, "SOCKERLESS_LAMBDA_RUNTIME=true") || !strings.Contains(env, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:") ||
		!strings.Contains(env, `SOCKERLESS_ENV=["A=1","AWS_REGION=x"]`) {
		t.Fatalf("invocation container = %+v", c)
	}
	if err := e.p.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Remove(ctx, s.ID); err != nil {
		t.Fatalf("Remove() of a removed container = %v, want nil", err)
	}
}

// TestFunctionName: workload functions are named PREFIX-ID, the prefix the
// deployment's IAM statements are scoped to (sockerless when none is set),
// within Lambda's 64 characters; a bad prefix is refused at start.
func TestFunctionName(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct{ prefix, want string }{
		{"", "sockerless-" + id[:48]},
		{"acme-ci", "acme-ci-" + id[:48]},
		{"abcdefghij-klmnopqrs", "abcdefghij-klmnopqrs-" + id[:43]},
	} {
		if got := FunctionName(tc.prefix, id); got != tc.want || len(got) > 64 {
			t.Errorf("FunctionName(%q) = %q (%d characters), want %q", tc.prefix, got, len(got), tc.want)
		}
	}
	ok := Config{RoleARN: "arn:aws:iam::123456789012:role/fn", Repository: "h/r", NamePrefix: "acme-ci"}
	if err := ok.Validate("SOCKERLESS_"); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	bad := ok
	bad.NamePrefix = "Acme_CI"
	if err := bad.Validate("SOCKERLESS_"); err == nil || !strings.Contains(err.Error(), "SOCKERLESS_NAME_PREFIX") {
		t.Fatalf("Validate() with a bad prefix = %v, want an error naming SOCKERLESS_NAME_PREFIX", err)
	}
}
