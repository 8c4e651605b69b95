package ecs

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sockerless/sockerless/integration/localcloud/ecsfake"
	"github.com/sockerless/sockerless/internal/errdefs"
	"github.com/sockerless/sockerless/providers"
	"github.com/sockerless/sockerless/providers/cloudagent"
	"github.com/sockerless/sockerless/relay/frame"
)

// stubRunner stands in for the engine: a task's container "runs" until
// stopped, or fails to pull when the image is refused.
type stubRunner struct {
	mu   sync.Mutex
	runs []ecsfake.ContainerSpec
	pull error
}

func (r *stubRunner) Run(ctx context.Context, c ecsfake.ContainerSpec, line func(int, []byte)) (ecsfake.RunningContainer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pull != nil {
		return nil, r.pull
	}
	r.runs = append(r.runs, c)
	return &stubContainer{stop: make(chan struct{})}, nil
}

type stubContainer struct {
	once sync.Once
	stop chan struct{}
}

func (c *stubContainer) Wait(ctx context.Context) (int, bool, error) {
	select {
	case <-c.stop:
		return 143, false, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}
func (c *stubContainer) Stop(context.Context) error   { c.once.Do(func() { close(c.stop) }); return nil }
func (c *stubContainer) Remove(context.Context) error { return nil }

// noAgent is a relay on which no agent ever connects.
type noAgent struct{}

func (noAgent) Dial(ctx context.Context, _, _ string) (io.ReadWriteCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type env struct {
	fake   *ecsfake.Fake
	runner *stubRunner
	p      *Provider
	image  string
}

func setup(t *testing.T, mutate func(*Config)) env {
	t.Helper()
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
	runner := &stubRunner{}
	fake := ecsfake.New(ecsfake.Options{Clusters: []string{"c1"}, Runner: runner})
	t.Cleanup(fake.Close)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	inj, err := cloudagent.NewInjector(cloudagent.InjectorOptions{Agent: []byte("agent"), Repository: host + "/sockerless"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Cluster: "c1", Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}, ExecutionRoleARN: "arn:aws:iam::123456789012:role/x",
		LogGroup: "/g", Repository: host + "/sockerless"}
	if mutate != nil {
		mutate(&cfg)
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}}
	p, err := New(Options{Config: cfg, AWS: awsCfg, Injector: inj, Link: cloudagent.Link{Dialer: noAgent{}, RelayURL: "ws://127.0.0.1:1", Secret: []byte("s")},
		Secret: []byte("s"), RelayURL: "ws://127.0.0.1:1", PollInterval: 20 * time.Millisecond, StartTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return env{fake: fake, runner: runner, p: p, image: ref.String()}
}

func spec(image string) providers.Spec {
	return providers.Spec{ID: strings.Repeat("ab", 32), Image: image, Cmd: []string{"sh", "-c", "echo hi"}, Env: []string{"A=1", "SOCKERLESS_X=no"}, WorkingDir: "/w", User: "nobody"}
}

func TestCreateRegistersOnceByContent(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	s := spec(e.image)
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	// A second functions instance (no cache) reuses the definition.
	p2, err := New(e.p.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls("RegisterTaskDefinition"); n != 1 {
		t.Fatalf("RegisterTaskDefinition called %d times, want 1", n)
	}
	s.Env = append(s.Env, "B=2")
	if err := p2.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls("RegisterTaskDefinition"); n != 2 {
		t.Fatalf("RegisterTaskDefinition called %d times after a changed env, want 2", n)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	e := setup(t, nil)
	e.fake.Throttle(2)
	if err := e.p.Create(context.Background(), spec(e.image)); err != nil {
		t.Fatalf("Create() under throttling = %v, want success after retries", err)
	}
	if n := e.fake.Calls("DescribeTaskDefinition"); n < 3 {
		t.Fatalf("DescribeTaskDefinition answered %d times, want the 2 throttled attempts retried", n)
	}
}

func TestErrorsAreDockerShaped(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		spec   func(providers.Spec) providers.Spec
		check  func(error) bool
		want   string
	}{
		{"ClientException is a bad request", func(c *Config) { c.ExecutionRoleARN = "" }, nil, errdefs.IsInvalidParameter, "execution role"},
		{"unknown cluster is unavailable", func(c *Config) { c.Cluster = "nope" }, nil, errdefs.IsUnavailable, "ClusterNotFoundException"},
		{"too much memory", nil, func(s providers.Spec) providers.Spec { s.Memory = 200 << 30; return s }, errdefs.IsInvalidParameter, "Fargate"},
		{"no command", nil, func(s providers.Spec) providers.Spec { s.Cmd = nil; return s }, errdefs.IsInvalidParameter, "no command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, c.mutate)
			s := spec(e.image)
			if c.spec != nil {
				s = c.spec(s)
			}
			err := e.p.Create(context.Background(), s)
			if err == nil && c.mutate != nil {
				err = e.p.Start(context.Background(), s)
			}
			if err == nil || !c.check(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Create/Start() = %v; want a %s error mentioning %q", err, c.name, c.want)
			}
		})
	}
}

func TestStartFailsWhenTheTaskStops(t *testing.T) {
	e := setup(t, nil)
	e.runner.pull = errors.New("cannot pull container image: manifest not found")
	ctx := context.Background()
	s := spec(e.image)
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	err := e.p.Start(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "CannotPullContainerError") {
		t.Fatalf("Start() = %v, want the task's CannotPullContainerError", err)
	}
}

func TestTaskRunsTheDefinition(t *testing.T) {
	e := setup(t, nil)
	e.p.opts.StartTimeout = 300 * time.Millisecond // no agent will come
	ctx := context.Background()
	s := spec(e.image)
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(ctx, s); err == nil || !errdefs.IsUnavailable(err) {
		t.Fatalf("Start() without an agent = %v, want Unavailable", err)
	}
	e.runner.mu.Lock()
	defer e.runner.mu.Unlock()
	if len(e.runner.runs) != 1 {
		t.Fatalf("%d containers run, want 1", len(e.runner.runs))
	}
	c := e.runner.runs[0]
	env := strings.Join(c.Env, " ")
	if c.Entrypoint[0] != cloudagent.AgentPath || strings.Join(c.Cmd, " ") != "-- sh -c echo hi" || c.WorkingDir != "/w" || c.MemoryBytes != 512<<20 {
		t.Fatalf("task container = %+v", c)
	}
	for _, want := range []string{"A=1", "SOCKERLESS_USER=nobody", "SOCKERLESS_CONTAINER_ID=" + s.ID, "SOCKERLESS_LOG_TAGS=true"} {
		if !strings.Contains(env, want) {
			t.Errorf("task env lacks %s: %s", want, env)
		}
	}
	if strings.Contains(env, "SOCKERLESS_X") {
		t.Errorf("the user's SOCKERLESS_ variable reached the task: %s", env)
	}
	// The failed start stopped its task.
	if err := e.p.waitStopped(ctx, e.p.tasks[s.ID]); err != nil {
		t.Fatal(err)
	}
}

func TestTaskSize(t *testing.T) {
	cases := []struct {
		mem, nano int64
		cpu, mib  int
		ok        bool
	}{
		{0, 0, 256, 512, true},
		{600 << 20, 0, 256, 1024, true},
		{3 << 30, 0, 512, 3072, true},
		{0, 2e9, 2048, 4096, true},
		{121 << 30, 0, 0, 0, false},
		{0, 17e9, 0, 0, false},
	}
	for _, c := range cases {
		cpu, mib, err := taskSize(c.mem, c.nano)
		if (err == nil) != c.ok || cpu != c.cpu || mib != c.mib {
			t.Errorf("taskSize(%d, %d) = %d, %d, %v; want %d, %d, ok %v", c.mem, c.nano, cpu, mib, err, c.cpu, c.mib, c.ok)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	for argv, want := range map[string]bool{"tail -f /dev/null": true, "/usr/bin/tail -f /dev/null": true, "sleep infinity": true, "sleep 600": false, "sh": false} {
		if got := isKeepAlive(strings.Fields(argv)); got != want {
			t.Errorf("isKeepAlive(%q) = %v, want %v", argv, got, want)
		}
	}
}

// Another instance finds the container's task by startedBy; removing it
// deregisters the definition, and a later create registers it again.
func TestRemoveFromAnotherInstance(t *testing.T) {
	e := setup(t, nil)
	e.p.opts.StartTimeout = 300 * time.Millisecond // no agent will come
	ctx := context.Background()
	s := spec(e.image)
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	_ = e.p.Start(ctx, s) // fails without an agent, leaving a stopped task
	p2, err := New(e.p.opts)
	if err != nil {
		t.Fatal(err)
	}
	arn, err := p2.taskOf(ctx, s.ID)
	if err != nil || arn != e.p.tasks[s.ID] {
		t.Fatalf("taskOf() on another instance = %q, %v; want %q", arn, err, e.p.tasks[s.ID])
	}
	if err := p2.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// The definition stays for the next container of the same spec.
	if n := e.fake.Calls("DeregisterTaskDefinition"); n != 0 {
		t.Fatalf("DeregisterTaskDefinition called %d times by docker rm, want 0", n)
	}
	p3, _ := New(e.p.opts)
	if err := p3.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls("RegisterTaskDefinition"); n != 1 {
		t.Fatalf("RegisterTaskDefinition called %d times, want still 1", n)
	}
	if _, err := p3.taskOf(ctx, strings.Repeat("cd", 32)); !errdefs.IsNotFound(err) {
		t.Fatalf("taskOf(unknown) = %v, want NotFound", err)
	}
}

// After restarts, another instance picks the newest of the container's
// tasks.
func TestTaskOfPicksTheNewest(t *testing.T) {
	e := setup(t, nil)
	// No agent will come: each start waits this long, so the tasks'
	// creation times (milliseconds) differ.
	e.p.opts.StartTimeout = 200 * time.Millisecond
	ctx := context.Background()
	s := spec(e.image)
	if err := e.p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	var last string
	for i := 0; i < 3; i++ {
		_ = e.p.Start(ctx, s)
		last = e.p.tasks[s.ID]
		if err := e.p.waitStopped(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	p2, _ := New(e.p.opts)
	if arn, err := p2.taskOf(ctx, s.ID); err != nil || arn != last {
		t.Fatalf("taskOf() = %q, %v; want the newest %q", arn, err, last)
	}
}

// agentUp is a relay on which every agent answers at once: stat sessions
// get a Result frame.
type agentUp struct{}

func (agentUp) Dial(ctx context.Context, _, _ string) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		_ = frame.WriteJSON(b, frame.ResultType, frame.Result{Status: 200})
		_, _ = io.Copy(io.Discard, b)
	}()
	return a, nil
}

// dyingContainer ends as if killed for memory, its agent never reporting.
type dyingContainer struct{ end chan struct{} }

func (c dyingContainer) Wait(ctx context.Context) (int, bool, error) {
	select {
	case <-c.end:
		return 137, true, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}
func (c dyingContainer) Stop(context.Context) error   { return nil }
func (c dyingContainer) Remove(context.Context) error { return nil }

type dyingRunner struct{ end chan struct{} }

func (r dyingRunner) Run(context.Context, ecsfake.ContainerSpec, func(int, []byte)) (ecsfake.RunningContainer, error) {
	return dyingContainer(r), nil
}

// A task that dies without its agent's report (OutOfMemoryError) is seen
// by the sweep's questions, asked by any instance: Exists says it is gone
// and ExitOf gives DescribeTasks' 137 with the OOM kill. Nothing watches
// the task in the background.
func TestExitOfATaskWhoseAgentDied(t *testing.T) {
	e := setup(t, nil)
	end := make(chan struct{})
	fake := ecsfake.New(ecsfake.Options{Clusters: []string{"c1"}, Runner: dyingRunner{end}})
	t.Cleanup(fake.Close)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	opts := e.p.opts
	opts.AWS.BaseEndpoint = aws.String(srv.URL)
	opts.Link.Dialer = agentUp{}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := spec(e.image)
	if err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Exists(ctx, s.ID); ok || err != nil {
		t.Fatalf("Exists before start = %v, %v; want false (no task)", ok, err)
	}
	if err := p.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	other, err := New(opts) // another functions instance, nothing cached
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Exists(ctx, s.ID); !ok || err != nil {
		t.Fatalf("Exists while running = %v, %v; want true", ok, err)
	}
	if _, ok, err := other.ExitOf(ctx, s.ID); ok || err != nil {
		t.Fatalf("ExitOf while running: ok %v, %v; want not known", ok, err)
	}
	close(end)
	deadline := time.Now().Add(time.Minute) // hang guard
	for {
		ok, err := other.Exists(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead task still exists")
		}
		if err := p.waitStopped(ctx, p.tasks[s.ID]); err != nil {
			t.Fatal(err)
		}
	}
	ex, ok, err := other.ExitOf(ctx, s.ID)
	if err != nil || !ok || ex.Code != 137 || !ex.OOMKilled || !strings.HasPrefix(ex.Reason, "OutOfMemoryError") || ex.At.IsZero() {
		t.Fatalf("ExitOf = %+v, %v, %v; want 137, OOMKilled, ECS's reason and time", ex, ok, err)
	}
}

// TestDefinitionRunnerEnv: the task definition gives the agent what a
// runner's containers need: the mount points it must make (tmpfs and
// volumes, a carried bind's destination among them), the carried binds
// the main process waits for, and peers by name (and direct connections
// from them on the configured port) when there is a control plane.
func TestDefinitionRunnerEnv(t *testing.T) {
	p := &Provider{opts: Options{RelayURL: "ws://r", Config: Config{ControlPlaneURL: "http://cp", ExecutionRoleARN: "arn:x", DirectPort: 7012}}}
	s := spec("img")
	s.Mounts = []providers.Mount{{Type: "tmpfs", Destination: "/__w"}, {Type: "volume", Source: "v", Destination: "/cache"}, {Type: "bind", Source: "/h", Destination: "/b"}}
	s.Tmpfs = map[string]string{"/run": ""}
	s.Labels = map[string]string{cloudagent.CarryLabel: `[{"src":"/host/work","dst":"/__w"},{"src":"/host/ext","dst":"/__e","ro":true}]`}
	in, err := p.definition(s, "img")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range in.ContainerDefinitions[0].Environment {
		got[*kv.Name] = *kv.Value
	}
	for k, want := range map[string]string{"SOCKERLESS_MOUNT_DIRS": "/__w,/cache,/run", "SOCKERLESS_CARRY_HOLD": "/__w,/__e", "SOCKERLESS_PEER_NET": "true",
		"SOCKERLESS_DIRECT_LISTEN": "0.0.0.0:7012"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	p.opts.Config.ControlPlaneURL = ""
	s.Labels, s.Mounts, s.Tmpfs = nil, nil, nil
	if in, err = p.definition(s, "img"); err != nil {
		t.Fatal(err)
	}
	for _, kv := range in.ContainerDefinitions[0].Environment {
		switch *kv.Name {
		case "SOCKERLESS_MOUNT_DIRS", "SOCKERLESS_CARRY_HOLD", "SOCKERLESS_PEER_NET", "SOCKERLESS_DIRECT_LISTEN":
			t.Errorf("%s set with nothing to do", *kv.Name)
		}
	}
}

// TestNamePrefix: task definition families start with the configured
// name prefix (the one the deployment's IAM statements are scoped to),
// sockerless when none is set; a prefix the deployments would refuse is
// refused at start, naming the variable.
func TestNamePrefix(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		{"", "sockerless-"},
		{"acme-ci", "acme-ci-"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			e := setup(t, func(c *Config) { c.NamePrefix = tc.prefix })
			arn, err := e.p.ensureDefinition(context.Background(), spec(e.image))
			if err != nil {
				t.Fatal(err)
			}
			if _, family, _ := strings.Cut(arn, ":task-definition/"); !strings.HasPrefix(family, tc.want) || strings.Count(family, "-") != strings.Count(tc.want, "-") {
				t.Fatalf("task definition %s: family does not start with %q", arn, tc.want)
			}
			if err := e.p.opts.Config.Validate("SOCKERLESS_"); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
	for _, bad := range []string{"Acme", "a", "acme_ci", "acme-", strings.Repeat("a", 21)} {
		e := setup(t, func(c *Config) { c.NamePrefix = bad })
		if err := e.p.opts.Config.Validate("SOCKERLESS_"); err == nil || !strings.Contains(err.Error(), "SOCKERLESS_NAME_PREFIX") {
			t.Errorf("Validate() with NAME_PREFIX %q = %v, want an error naming SOCKERLESS_NAME_PREFIX", bad, err)
		}
	}
}

// TestTidy: definitions outlive docker rm and are deregistered by Tidy
// once no task ECS lists uses them and they are older than
// DefinitionIdle; another deployment's families are left alone, and a
// start whose cached definition was tidied registers it again.
func TestTidy(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		idle      time.Duration
		retention time.Duration // of stopped tasks, in the fake
		want      int           // deregistered by Tidy
	}{
		{"idle and forgotten", 0, time.Nanosecond, 1},
		{"registered too recently", time.Hour, time.Nanosecond, 0},
		{"a stopped task still listed uses it", 0, time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, func(c *Config) { c.DefinitionIdle = tc.idle })
			e.fake.SetStoppedTaskRetention(tc.retention)
			e.p.opts.StartTimeout = 300 * time.Millisecond // no agent will come
			s := spec(e.image)
			if err := e.p.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			// Another deployment's definition in the same account.
			other := setup(t, func(c *Config) { c.NamePrefix = "other"; c.DefinitionIdle = 0 })
			other.p.ecs = e.p.ecs
			if err := other.p.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			_ = e.p.Start(ctx, s) // fails without an agent, leaving a stopped task
			arn := e.p.tasks[s.ID]
			if err := e.p.Remove(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.p.waitStopped(ctx, arn); err != nil {
				t.Fatal(err)
			}
			done, err := e.p.Tidy(ctx)
			if err != nil || len(done) != tc.want {
				t.Fatalf("Tidy() = %q, %v; want %d deregistered", done, err, tc.want)
			}
			for _, arn := range done {
				if !strings.Contains(arn, ":task-definition/sockerless-") {
					t.Errorf("Tidy() deregistered %s, not this deployment's", arn)
				}
			}
			if again, err := e.p.Tidy(ctx); err != nil || len(again) != 0 {
				t.Errorf("second Tidy() = %q, %v; want nothing left to do", again, err)
			}
			if tc.want == 0 {
				return
			}
			// This instance still has the definition cached.
			s.ID = strings.Repeat("ef", 32)
			if err := e.p.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := e.p.Start(ctx, s); !errdefs.IsUnavailable(err) || strings.Contains(err.Error(), "inactive") {
				t.Fatalf("Start() after Tidy = %v, want only the missing agent", err)
			}
			if n := e.fake.Calls("RegisterTaskDefinition"); n != 3 {
				t.Fatalf("RegisterTaskDefinition called %d times, want 3 (ours, the other deployment's, ours again)", n)
			}
		})
	}
}
