// Package ecsfake is a local stand-in for Amazon ECS's run API on Fargate,
// speaking its wire protocol (AWS JSON 1.1, X-Amz-Target
// AmazonEC2ContainerServiceV20141113.*) as the official SDKs send it:
// RegisterTaskDefinition, DeregisterTaskDefinition,
// DescribeTaskDefinition, RunTask, StopTask, DescribeTasks and ListTasks.
//
// Each task runs as a real container on a Docker engine (a Runner), with
// the task definition's image, entry point, command, environment (plus
// RunTask's overrides), working directory and memory; its output goes to
// the CloudWatch Logs group and stream the awslogs configuration names, as
// the awslogs driver writes it (one event per line, stdout and stderr
// mixed). Tasks go PENDING, RUNNING, STOPPED with ECS's stop codes and
// reasons (EssentialContainerExited, TaskFailedToStart with
// CannotPullContainerError, UserInitiated, OutOfMemoryError), and requests
// ECS refuses are refused with its exception types: invalid Fargate
// cpu/memory pairs, missing fields, names outside ECS's patterns, unknown
// clusters and task definitions.
//
// Throttle makes the next N requests fail with ThrottlingException, for
// tests of clients' retries.
package ecsfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockerless/sockerless/integration/localcloud/dockerrun"
)

// TargetPrefix is the X-Amz-Target prefix of ECS operations.
const TargetPrefix = "AmazonEC2ContainerServiceV20141113."

// Runner runs one task's container. dockerrun.Engine satisfies it through
// EngineRunner.
type Runner interface {
	Run(ctx context.Context, c ContainerSpec, line func(stream int, text []byte)) (RunningContainer, error)
}

// RunningContainer is a started task container.
type RunningContainer interface {
	// Wait returns the exit once the container ended and its output was
	// delivered.
	Wait(ctx context.Context) (code int, oomKilled bool, err error)
	// Stop sends SIGTERM, then SIGKILL after the container's stop timeout.
	Stop(ctx context.Context) error
	Remove(ctx context.Context) error
}

// ContainerSpec is what a task's container runs with.
type ContainerSpec struct {
	Image       string
	Entrypoint  []string
	Cmd         []string
	Env         []string
	WorkingDir  string
	User        string
	MemoryBytes int64
	NanoCPUs    int64
	StopTimeout time.Duration
	Labels      map[string]string
	// OwnNetwork gives the container a network namespace of its own, as
	// awsvpc gives every Fargate task (dockerrun.Spec.OwnNetwork).
	OwnNetwork bool
}

// LogSink receives a task's output lines for a CloudWatch Logs stream.
type LogSink interface {
	// Check reports an error when group does not exist.
	Check(ctx context.Context, group string) error
	// Write appends events (one per line) to group/stream, creating the
	// stream.
	Write(ctx context.Context, group, stream string, lines []LogLine) error
}

// LogLine is one event.
type LogLine struct {
	Time time.Time
	Text string
}

// Options configures a Fake.
type Options struct {
	Region, Account string
	// Clusters that exist (by name).
	Clusters []string
	Runner   Runner
	Logs     LogSink
	Logger   *slog.Logger
	// ImageAllowed, when set, refuses images it returns an error for
	// (the task stops with CannotPullContainerError).
	ImageAllowed func(image string) error
	// StoppedTaskRetention is how long a stopped task is still listed and
	// described; ECS keeps them "at least an hour" (default 1 h).
	StoppedTaskRetention time.Duration
}

// Fake is the ECS stand-in; an http.Handler. Safe for concurrent use.
type Fake struct {
	opts     Options
	log      *slog.Logger
	throttle atomic.Int64
	// retention is Options.StoppedTaskRetention (changed by tests).
	retention atomic.Int64
	calls     sync.Map // operation -> *atomic.Int64

	mu    sync.Mutex
	defs  map[string][]*taskDef // family -> revisions (index rev-1)
	tasks map[string]*task      // id -> task
	wg    sync.WaitGroup
}

// New returns a Fake.
func New(opts Options) *Fake {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.StoppedTaskRetention <= 0 {
		opts.StoppedTaskRetention = time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fake{opts: opts, log: log, defs: map[string][]*taskDef{}, tasks: map[string]*task{}}
	f.retention.Store(int64(opts.StoppedTaskRetention))
	return f
}

// SetStoppedTaskRetention changes Options.StoppedTaskRetention.
func (f *Fake) SetStoppedTaskRetention(d time.Duration) { f.retention.Store(int64(d)) }

// Throttle makes the next n requests answer ThrottlingException.
func (f *Fake) Throttle(n int) { f.throttle.Store(int64(n)) }

// Calls reports how many requests of operation op were answered
// (throttled ones included).
func (f *Fake) Calls(op string) int {
	if v, ok := f.calls.Load(op); ok {
		return int(v.(*atomic.Int64).Load())
	}
	return 0
}

// Close stops every running task and waits for them.
func (f *Fake) Close() {
	f.mu.Lock()
	var ts []*task
	for _, t := range f.tasks {
		ts = append(ts, t)
	}
	f.mu.Unlock()
	for _, t := range ts {
		t.stop("UserInitiated", "local cloud stopping")
	}
	f.wg.Wait()
}

// apiError is an ECS error answer.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func clientErr(format string, a ...any) *apiError {
	return &apiError{Type: "ClientException", Message: fmt.Sprintf(format, a...), Status: 400}
}

func invalidParam(format string, a ...any) *apiError {
	return &apiError{Type: "InvalidParameterException", Message: fmt.Sprintf(format, a...), Status: 400}
}

// ServeHTTP implements the JSON 1.1 protocol.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeErr(w, &apiError{Type: "UnknownOperationException", Message: "unknown operation " + target, Status: 400})
		return
	}
	v, _ := f.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if n := f.throttle.Load(); n > 0 && f.throttle.CompareAndSwap(n, n-1) {
		writeErr(w, &apiError{Type: "ThrottlingException", Message: "Rate exceeded", Status: 400})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(w, clientErr("cannot read request: %v", err))
		return
	}
	var out any
	var aerr *apiError
	switch op {
	case "RegisterTaskDefinition":
		out, aerr = f.register(body)
	case "DeregisterTaskDefinition":
		out, aerr = f.deregister(body)
	case "DescribeTaskDefinition":
		out, aerr = f.describeDef(body)
	case "RunTask":
		out, aerr = f.runTask(r.Context(), body)
	case "StopTask":
		out, aerr = f.stopTask(body)
	case "DescribeTasks":
		out, aerr = f.describeTasks(body)
	case "ListTasks":
		out, aerr = f.listTasks(body)
	case "ListTaskDefinitionFamilies":
		out, aerr = f.listFamilies(body)
	default:
		aerr = &apiError{Type: "UnknownOperationException", Message: "operation " + op + " is not served by the local ECS", Status: 400}
	}
	if aerr != nil {
		f.log.Debug("ecs refused", "op", op, "err", aerr)
		writeErr(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{Type: "SerializationException", Message: err.Error(), Status: 400}
	}
	return nil
}

var (
	namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
	startedByRe = regexp.MustCompile(`^[a-zA-Z0-9_/-]{1,128}$`)
)

// --- task definitions ---

type kv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type logConfig struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options,omitempty"`
}

type containerDef struct {
	Name             string     `json:"name"`
	Image            string     `json:"image"`
	EntryPoint       []string   `json:"entryPoint,omitempty"`
	Command          []string   `json:"command,omitempty"`
	Environment      []kv       `json:"environment,omitempty"`
	WorkingDirectory string     `json:"workingDirectory,omitempty"`
	User             string     `json:"user,omitempty"`
	Essential        *bool      `json:"essential,omitempty"`
	StopTimeout      *int       `json:"stopTimeout,omitempty"`
	LogConfiguration *logConfig `json:"logConfiguration,omitempty"`
	Memory           *int       `json:"memory,omitempty"`
}

type registerInput struct {
	Family                  string         `json:"family"`
	ContainerDefinitions    []containerDef `json:"containerDefinitions"`
	NetworkMode             string         `json:"networkMode"`
	RequiresCompatibilities []string       `json:"requiresCompatibilities"`
	Cpu                     string         `json:"cpu"`
	Memory                  string         `json:"memory"`
	ExecutionRoleArn        string         `json:"executionRoleArn"`
	TaskRoleArn             string         `json:"taskRoleArn"`
}

type taskDef struct {
	registerInput
	TaskDefinitionArn string   `json:"taskDefinitionArn"`
	Revision          int      `json:"revision"`
	Status            string   `json:"status"`
	Compatibilities   []string `json:"compatibilities"`
	RegisteredAt      float64  `json:"registeredAt"`
	DeregisteredAt    float64  `json:"deregisteredAt,omitempty"`
}

// fargateMemory lists the valid memory values (MiB) for each Fargate CPU
// value, as the ECS documentation gives them.
func fargateMemory(cpu int) []int {
	var out []int
	add := func(from, to, step int) {
		for m := from; m <= to; m += step {
			out = append(out, m)
		}
	}
	switch cpu {
	case 256:
		out = []int{512, 1024, 2048}
	case 512:
		add(1024, 4096, 1024)
	case 1024:
		add(2048, 8192, 1024)
	case 2048:
		add(4096, 16384, 1024)
	case 4096:
		add(8192, 30720, 1024)
	case 8192:
		add(16384, 61440, 4096)
	case 16384:
		add(32768, 122880, 8192)
	}
	return out
}

// parseCPU reads "256" or "0.25 vCPU"; memory "512" or "1 GB".
func parseCPU(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if v, ok := strings.CutSuffix(strings.ToLower(s), "vcpu"); ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return int(x * 1024), err == nil
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func parseMemory(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if v, ok := strings.CutSuffix(strings.ToLower(s), "gb"); ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return int(x * 1024), err == nil
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (f *Fake) register(body []byte) (any, *apiError) {
	var in registerInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Family == "" {
		return nil, clientErr("Family cannot be empty.")
	}
	if !namePattern.MatchString(in.Family) {
		return nil, clientErr("Family name can have up to 255 characters, including letters (uppercase and lowercase), numbers, hyphens, and underscores.")
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, clientErr("Container list cannot be empty.")
	}
	fargate := slices.Contains(in.RequiresCompatibilities, "FARGATE")
	for _, c := range in.ContainerDefinitions {
		if c.Name == "" || !namePattern.MatchString(c.Name) {
			return nil, clientErr("Container name can have up to 255 characters, including letters (uppercase and lowercase), numbers, hyphens, and underscores.")
		}
		if c.Image == "" {
			return nil, clientErr("Container.image should not be null or empty.")
		}
		if c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awslogs" {
			if c.LogConfiguration.Options["awslogs-group"] == "" || c.LogConfiguration.Options["awslogs-region"] == "" {
				return nil, clientErr("Log driver awslogs option 'awslogs-group' and 'awslogs-region' should not be null or empty.")
			}
			if fargate && in.ExecutionRoleArn == "" {
				return nil, clientErr("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
			}
		}
		if c.StopTimeout != nil && (*c.StopTimeout < 0 || *c.StopTimeout > 120) {
			return nil, clientErr("Invalid stopTimeout value: %d. Valid values are 0-120 seconds.", *c.StopTimeout)
		}
	}
	if fargate {
		if in.NetworkMode != "awsvpc" {
			return nil, clientErr("Fargate only supports network mode ‘awsvpc’.")
		}
		if in.Cpu == "" {
			return nil, clientErr("Fargate requires that 'cpu' be defined at the task level.")
		}
		if in.Memory == "" {
			return nil, clientErr("Fargate requires that 'memory' be defined at the task level.")
		}
		cpu, okc := parseCPU(in.Cpu)
		mem, okm := parseMemory(in.Memory)
		if !okc || !okm || !slices.Contains(fargateMemory(cpu), mem) {
			return nil, clientErr("No Fargate configuration exists for given values: %s CPU, %s memory. Please review the documentation for supported values.", in.Cpu, in.Memory)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	revs := f.defs[in.Family]
	d := &taskDef{registerInput: in, Revision: len(revs) + 1, Status: "ACTIVE", Compatibilities: []string{"EC2", "FARGATE"}, RegisteredAt: now()}
	d.TaskDefinitionArn = fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", f.opts.Region, f.opts.Account, in.Family, d.Revision)
	f.defs[in.Family] = append(revs, d)
	return map[string]any{"taskDefinition": d, "tags": []any{}}, nil
}

// lookupDef resolves "family", "family:rev" or an ARN. Locked by caller.
func (f *Fake) lookupDef(ref string) (*taskDef, *apiError) {
	if i := strings.LastIndex(ref, ":task-definition/"); i >= 0 {
		ref = ref[i+len(":task-definition/"):]
	}
	family, revStr, hasRev := strings.Cut(ref, ":")
	revs := f.defs[family]
	if hasRev {
		n, err := strconv.Atoi(revStr)
		if err != nil || n < 1 || n > len(revs) {
			return nil, clientErr("Unable to describe task definition.")
		}
		return revs[n-1], nil
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Status == "ACTIVE" {
			return revs[i], nil
		}
	}
	return nil, clientErr("Unable to describe task definition.")
}

func (f *Fake) describeDef(body []byte) (any, *apiError) {
	var in struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.TaskDefinition == "" {
		return nil, clientErr("Task Definition can not be blank.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.lookupDef(in.TaskDefinition)
	if e != nil {
		return nil, e
	}
	return map[string]any{"taskDefinition": d}, nil
}

func (f *Fake) deregister(body []byte) (any, *apiError) {
	var in struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.TaskDefinition == "" {
		return nil, clientErr("Task Definition can not be blank.")
	}
	ref := in.TaskDefinition
	if i := strings.LastIndex(ref, ":task-definition/"); i >= 0 {
		ref = ref[i+len(":task-definition/"):]
	}
	if !strings.Contains(ref, ":") {
		return nil, clientErr("Invalid revision number. Number: %s", ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.lookupDef(in.TaskDefinition)
	if e != nil {
		return nil, clientErr("The specified task definition does not exist.")
	}
	if d.Status == "ACTIVE" {
		d.Status, d.DeregisteredAt = "INACTIVE", now()
	}
	return map[string]any{"taskDefinition": d}, nil
}

// --- tasks ---

type container struct {
	ContainerArn string `json:"containerArn"`
	TaskArn      string `json:"taskArn"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	LastStatus   string `json:"lastStatus"`
	ExitCode     *int   `json:"exitCode,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

type taskView struct {
	TaskArn           string         `json:"taskArn"`
	ClusterArn        string         `json:"clusterArn"`
	TaskDefinitionArn string         `json:"taskDefinitionArn"`
	LastStatus        string         `json:"lastStatus"`
	DesiredStatus     string         `json:"desiredStatus"`
	LaunchType        string         `json:"launchType"`
	Cpu               string         `json:"cpu"`
	Memory            string         `json:"memory"`
	StartedBy         string         `json:"startedBy,omitempty"`
	Containers        []container    `json:"containers"`
	StopCode          string         `json:"stopCode,omitempty"`
	StoppedReason     string         `json:"stoppedReason,omitempty"`
	CreatedAt         float64        `json:"createdAt"`
	StartedAt         float64        `json:"startedAt,omitempty"`
	StoppingAt        float64        `json:"stoppingAt,omitempty"`
	StoppedAt         float64        `json:"stoppedAt,omitempty"`
	Attachments       []any          `json:"attachments"`
	Overrides         map[string]any `json:"overrides"`
	Group             string         `json:"group,omitempty"`
	Version           int            `json:"version"`
}

type task struct {
	f     *Fake
	id    string
	mu    sync.Mutex
	view  taskView
	run   RunningContainer
	stopc chan struct{}
	once  sync.Once
}

func (t *task) snapshot() taskView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.view
	v.Containers = slices.Clone(v.Containers)
	return v
}

type runInput struct {
	Cluster              string `json:"cluster"`
	TaskDefinition       string `json:"taskDefinition"`
	LaunchType           string `json:"launchType"`
	Count                *int   `json:"count"`
	StartedBy            string `json:"startedBy"`
	Group                string `json:"group"`
	NetworkConfiguration *struct {
		AwsvpcConfiguration *struct {
			Subnets        []string `json:"subnets"`
			SecurityGroups []string `json:"securityGroups"`
			AssignPublicIp string   `json:"assignPublicIp"`
		} `json:"awsvpcConfiguration"`
	} `json:"networkConfiguration"`
	Overrides *struct {
		ContainerOverrides []struct {
			Name        string   `json:"name"`
			Command     []string `json:"command"`
			Environment []kv     `json:"environment"`
		} `json:"containerOverrides"`
	} `json:"overrides"`
}

func (f *Fake) clusterArn(name string) (string, *apiError) {
	if name == "" {
		name = "default"
	}
	if i := strings.LastIndex(name, ":cluster/"); i >= 0 {
		name = name[i+len(":cluster/"):]
	}
	if !slices.Contains(f.opts.Clusters, name) {
		return "", &apiError{Type: "ClusterNotFoundException", Message: "Cluster not found.", Status: 400}
	}
	return fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", f.opts.Region, f.opts.Account, name), nil
}

func (f *Fake) runTask(ctx context.Context, body []byte) (any, *apiError) {
	var in runInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.TaskDefinition == "" {
		return nil, invalidParam("TaskDefinition can not be blank.")
	}
	clusterArn, e := f.clusterArn(in.Cluster)
	if e != nil {
		return nil, e
	}
	if in.Count != nil && (*in.Count < 1 || *in.Count > 10) {
		return nil, invalidParam("count must be between 1 and 10.")
	}
	if in.Count != nil && *in.Count != 1 {
		return nil, invalidParam("the local ECS runs one task per RunTask")
	}
	if in.StartedBy != "" && !startedByRe.MatchString(in.StartedBy) {
		return nil, invalidParam("startedBy can have up to 128 letters, numbers, hyphens, forward slashes and underscores.")
	}
	f.mu.Lock()
	d, e := f.lookupDef(in.TaskDefinition)
	f.mu.Unlock()
	if e != nil {
		return nil, invalidParam("TaskDefinition not found.")
	}
	if d.Status != "ACTIVE" {
		return nil, clientErr("TaskDefinition is inactive")
	}
	if in.LaunchType == "FARGATE" {
		if !slices.Contains(d.RequiresCompatibilities, "FARGATE") {
			return nil, invalidParam("Task definition does not support launch_type FARGATE.")
		}
	}
	if d.NetworkMode == "awsvpc" {
		if in.NetworkConfiguration == nil || in.NetworkConfiguration.AwsvpcConfiguration == nil {
			return nil, invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		}
		if len(in.NetworkConfiguration.AwsvpcConfiguration.Subnets) == 0 {
			return nil, invalidParam("subnets can not be empty.")
		}
		if len(in.NetworkConfiguration.AwsvpcConfiguration.Subnets) > 16 {
			return nil, invalidParam("at most 16 subnets are allowed.")
		}
		if len(in.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups) > 5 {
			return nil, invalidParam("at most 5 security groups are allowed.")
		}
	}
	overrides := map[string]any{}
	if in.Overrides != nil {
		for _, o := range in.Overrides.ContainerOverrides {
			if !slices.ContainsFunc(d.ContainerDefinitions, func(c containerDef) bool { return c.Name == o.Name }) {
				return nil, invalidParam("Override for container named %s is not a container in the TaskDefinition.", o.Name)
			}
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		if o, ok := m["overrides"].(map[string]any); ok {
			overrides = o
		}
	}
	id := newID()
	t := &task{f: f, id: id, stopc: make(chan struct{})}
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", f.opts.Region, f.opts.Account, clusterName(clusterArn), id)
	t.view = taskView{
		TaskArn: arn, ClusterArn: clusterArn, TaskDefinitionArn: d.TaskDefinitionArn, LastStatus: "PROVISIONING", DesiredStatus: "RUNNING",
		LaunchType: in.LaunchType, Cpu: d.Cpu, Memory: d.Memory, StartedBy: in.StartedBy, CreatedAt: now(), Overrides: overrides, Group: in.Group, Version: 1,
		Attachments: []any{map[string]any{"id": newID()[:8] + "-eni", "type": "ElasticNetworkInterface", "status": "ATTACHED",
			"details": []map[string]string{{"name": "subnetId", "value": in.NetworkConfiguration.AwsvpcConfiguration.Subnets[0]}, {"name": "privateIPv4Address", "value": "127.0.0.1"}}}},
	}
	c := d.ContainerDefinitions[0]
	t.view.Containers = []container{{ContainerArn: fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", f.opts.Region, f.opts.Account, clusterName(clusterArn), id, newID()),
		TaskArn: arn, Name: c.Name, Image: c.Image, LastStatus: "PENDING"}}
	f.mu.Lock()
	f.tasks[id] = t
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t.lifecycle(d, in)
	}()
	return map[string]any{"tasks": []taskView{t.snapshot()}, "failures": []any{}}, nil
}

func clusterName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// lifecycle runs the task's (first) container to its end.
func (t *task) lifecycle(d *taskDef, in runInput) {
	ctx := context.Background()
	f := t.f
	c := d.ContainerDefinitions[0]
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, e := range c.Environment {
		set(e.Name, e.Value)
	}
	cmd := c.Command
	if in.Overrides != nil {
		for _, o := range in.Overrides.ContainerOverrides {
			if o.Name != c.Name {
				continue
			}
			for _, e := range o.Environment {
				set(e.Name, e.Value)
			}
			if o.Command != nil {
				cmd = o.Command
			}
		}
	}
	var envList []string
	for _, k := range order {
		envList = append(envList, k+"="+env[k])
	}
	t.setStatus("PENDING", "PENDING")
	spec := ContainerSpec{OwnNetwork: true, Image: c.Image, Entrypoint: c.EntryPoint, Cmd: cmd, Env: envList, WorkingDir: c.WorkingDirectory, User: c.User,
		Labels: map[string]string{"com.amazonaws.ecs.task-arn": t.view.TaskArn}, StopTimeout: 30 * time.Second}
	if c.StopTimeout != nil {
		spec.StopTimeout = time.Duration(*c.StopTimeout) * time.Second
	}
	if mem, ok := parseMemory(d.Memory); ok && mem > 0 {
		spec.MemoryBytes = int64(mem) << 20
	}
	if cpu, ok := parseCPU(d.Cpu); ok && cpu > 0 {
		spec.NanoCPUs = int64(cpu) * 1e9 / 1024
	}
	var group, stream string
	if lc := c.LogConfiguration; lc != nil && lc.LogDriver == "awslogs" && f.opts.Logs != nil {
		group = lc.Options["awslogs-group"]
		stream = t.id
		if p := lc.Options["awslogs-stream-prefix"]; p != "" {
			stream = p + "/" + c.Name + "/" + t.id
		}
		if err := f.opts.Logs.Check(ctx, group); err != nil {
			t.failStart("ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1")
			return
		}
	}
	if f.opts.ImageAllowed != nil {
		if err := f.opts.ImageAllowed(c.Image); err != nil {
			t.failStart("CannotPullContainerError: " + err.Error())
			return
		}
	}
	logs := newLogPump(f.opts.Logs, group, stream, f.log)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.stopc:
			// A stop before the container exists ends the start.
			t.mu.Lock()
			started := t.run != nil
			t.mu.Unlock()
			if !started {
				cancel()
			}
		case <-runCtx.Done():
		}
	}()
	rc, err := f.opts.Runner.Run(runCtx, spec, logs.add)
	if err != nil {
		reason := "CannotStartContainerError: " + err.Error()
		if strings.Contains(err.Error(), "pull") {
			reason = fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 1 time(s): %v", err)
		}
		t.failStart(reason)
		return
	}
	t.mu.Lock()
	t.run = rc
	stopped := t.view.DesiredStatus == "STOPPED"
	t.view.LastStatus, t.view.StartedAt = "RUNNING", now()
	t.view.Containers[0].LastStatus = "RUNNING"
	t.view.Version++
	t.mu.Unlock()
	if stopped {
		_ = rc.Stop(ctx)
	}
	code, oom, werr := rc.Wait(ctx)
	logs.close(ctx)
	_ = rc.Remove(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.view.LastStatus, t.view.DesiredStatus, t.view.StoppedAt = "STOPPED", "STOPPED", now()
	t.view.Containers[0].LastStatus = "STOPPED"
	t.view.Version++
	if werr != nil {
		t.view.StopCode, t.view.StoppedReason = "TaskFailedToStart", "Task failed: "+werr.Error()
		return
	}
	t.view.Containers[0].ExitCode = &code
	if oom {
		t.view.Containers[0].Reason = "OutOfMemoryError: Container killed due to memory usage"
	}
	if t.view.StopCode == "" {
		t.view.StopCode, t.view.StoppedReason = "EssentialContainerExited", "Essential container in task exited"
	}
}

func (t *task) failStart(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.view.LastStatus, t.view.DesiredStatus, t.view.StoppedAt = "STOPPED", "STOPPED", now()
	t.view.StopCode, t.view.StoppedReason = "TaskFailedToStart", reason
	t.view.Containers[0].LastStatus, t.view.Containers[0].Reason = "STOPPED", reason
	t.view.Version++
}

func (t *task) setStatus(last, container string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.view.LastStatus = last
	t.view.Containers[0].LastStatus = container
	t.view.Version++
}

// stop asks the task to stop (SIGTERM, SIGKILL after the container's
// stopTimeout), recording the first stop's code and reason.
func (t *task) stop(code, reason string) {
	t.once.Do(func() {
		t.mu.Lock()
		if t.view.LastStatus == "STOPPED" {
			t.mu.Unlock()
			return
		}
		t.view.DesiredStatus, t.view.StoppingAt = "STOPPED", now()
		t.view.StopCode, t.view.StoppedReason = code, reason
		rc := t.run
		t.mu.Unlock()
		close(t.stopc)
		if rc != nil {
			go func() { _ = rc.Stop(context.Background()) }()
		}
	})
}

func (f *Fake) findTask(cluster, ref string) (*task, *apiError) {
	id := ref[strings.LastIndex(ref, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok || (cluster != "" && clusterName(t.view.ClusterArn) != clusterName(cluster)) || f.forgotten(t.snapshot()) {
		return nil, invalidParam("The referenced task was not found.")
	}
	return t, nil
}

// forgotten: the task stopped longer ago than ECS keeps stopped tasks.
func (f *Fake) forgotten(v taskView) bool {
	return v.StoppedAt != 0 && now()-v.StoppedAt > time.Duration(f.retention.Load()).Seconds()
}

func (f *Fake) stopTask(body []byte) (any, *apiError) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Task == "" {
		return nil, invalidParam("Task can not be blank.")
	}
	if _, e := f.clusterArn(in.Cluster); e != nil {
		return nil, e
	}
	t, e := f.findTask(orDefault(in.Cluster), in.Task)
	if e != nil {
		return nil, e
	}
	reason := in.Reason
	if reason == "" {
		reason = "Task stopped by user"
	}
	t.stop("UserInitiated", reason)
	return map[string]any{"task": t.snapshot()}, nil
}

func orDefault(c string) string {
	if c == "" {
		return "default"
	}
	return c
}

func (f *Fake) describeTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Tasks) == 0 {
		return nil, invalidParam("Tasks cannot be empty.")
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParam("Tasks can have at most 100 items.")
	}
	clusterArn, e := f.clusterArn(in.Cluster)
	if e != nil {
		return nil, e
	}
	tasks := []taskView{}
	failures := []map[string]string{}
	for _, ref := range in.Tasks {
		t, e := f.findTask(orDefault(in.Cluster), ref)
		if e != nil {
			arn := ref
			if !strings.HasPrefix(arn, "arn:") {
				arn = fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", f.opts.Region, f.opts.Account, clusterName(clusterArn), ref)
			}
			failures = append(failures, map[string]string{"arn": arn, "reason": "MISSING"})
			continue
		}
		tasks = append(tasks, t.snapshot())
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func (f *Fake) listTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster       string `json:"cluster"`
		StartedBy     string `json:"startedBy"`
		DesiredStatus string `json:"desiredStatus"`
		Family        string `json:"family"`
		MaxResults    int    `json:"maxResults"`
		NextToken     string `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, invalidParam("maxResults must be between 1 and 100.")
	}
	clusterArn, e := f.clusterArn(in.Cluster)
	if e != nil {
		return nil, e
	}
	desired := in.DesiredStatus
	if desired == "" {
		desired = "RUNNING"
	}
	if desired != "RUNNING" && desired != "PENDING" && desired != "STOPPED" {
		return nil, invalidParam("desiredStatus must be RUNNING, PENDING or STOPPED.")
	}
	f.mu.Lock()
	var ts []*task
	for _, t := range f.tasks {
		ts = append(ts, t)
	}
	f.mu.Unlock()
	arns := []string{}
	for _, t := range ts {
		v := t.snapshot()
		if v.ClusterArn != clusterArn || (in.StartedBy != "" && v.StartedBy != in.StartedBy) || f.forgotten(v) {
			continue
		}
		if in.Family != "" && familyOfArn(v.TaskDefinitionArn) != in.Family {
			continue
		}
		if desired == "STOPPED" && v.DesiredStatus != "STOPPED" || desired != "STOPPED" && v.DesiredStatus == "STOPPED" {
			continue
		}
		arns = append(arns, v.TaskArn)
	}
	slices.Sort(arns)
	page, next, e := paginate(arns, in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	return map[string]any{"taskArns": page, "nextToken": next}, nil
}

// familyOfArn is the family of a task definition ARN.
func familyOfArn(arn string) string {
	f, _, _ := strings.Cut(arn[strings.LastIndex(arn, "/")+1:], ":")
	return f
}

// paginate is one page of sorted items after token (an offset here; an
// opaque string to callers, as ECS's are), and the next page's token
// (nil on the last page). max 0 is ECS's default of 100.
func paginate(items []string, max int, token string) ([]string, *string, *apiError) {
	if max == 0 {
		max = 100
	}
	from := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, nil, invalidParam("Invalid nextToken.")
		}
		from = n
	}
	to := min(from+max, len(items))
	if to == len(items) {
		return items[from:to], nil, nil
	}
	next := strconv.Itoa(to)
	return items[from:to], &next, nil
}

// listFamilies answers ListTaskDefinitionFamilies: the families whose
// name starts with familyPrefix, with an ACTIVE revision (status ACTIVE),
// an INACTIVE one (INACTIVE), or any (ALL, the default), sorted.
func (f *Fake) listFamilies(body []byte) (any, *apiError) {
	var in struct {
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		MaxResults   int    `json:"maxResults"`
		NextToken    string `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Status == "" {
		in.Status = "ALL"
	}
	if in.Status != "ACTIVE" && in.Status != "INACTIVE" && in.Status != "ALL" {
		return nil, invalidParam("status must be ACTIVE, INACTIVE or ALL.")
	}
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, invalidParam("maxResults must be between 1 and 100.")
	}
	f.mu.Lock()
	families := []string{}
	for fam, revs := range f.defs {
		if !strings.HasPrefix(fam, in.FamilyPrefix) {
			continue
		}
		if in.Status == "ALL" || slices.ContainsFunc(revs, func(d *taskDef) bool { return d.Status == in.Status }) {
			families = append(families, fam)
		}
	}
	f.mu.Unlock()
	slices.Sort(families)
	page, next, e := paginate(families, in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	return map[string]any{"families": page, "nextToken": next}, nil
}

func now() float64 { return float64(time.Now().UnixMilli()) / 1000 }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logPump batches a task's lines into its log stream, in order.
type logPump struct {
	sink          LogSink
	group, stream string
	log           *slog.Logger
	mu            sync.Mutex
	pending       []LogLine
	kick          chan struct{}
	done          chan struct{}
	closed        bool
}

func newLogPump(sink LogSink, group, stream string, log *slog.Logger) *logPump {
	p := &logPump{sink: sink, group: group, stream: stream, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *logPump) add(_ int, text []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.pending = append(p.pending, LogLine{Time: time.Now(), Text: string(text)})
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *logPump) loop() {
	defer close(p.done)
	for {
		_, ok := <-p.kick
		p.mu.Lock()
		batch := p.pending
		p.pending = nil
		p.mu.Unlock()
		if len(batch) > 0 && p.sink != nil && p.group != "" {
			if err := p.sink.Write(context.Background(), p.group, p.stream, batch); err != nil {
				p.log.Warn("log events not written", "group", p.group, "stream", p.stream, "err", err)
			}
		}
		if !ok {
			return
		}
	}
}

// close writes what is pending and stops the pump.
func (p *logPump) close(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.kick)
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
	}
}

// EngineRunner runs task containers on a Docker engine.
func EngineRunner(e *dockerrun.Engine) Runner { return engineRunner{e} }

type engineRunner struct{ e *dockerrun.Engine }

func (r engineRunner) Run(ctx context.Context, c ContainerSpec, line func(int, []byte)) (RunningContainer, error) {
	rc, err := r.e.Run(ctx, dockerrun.Spec{Image: c.Image, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
		MemoryBytes: c.MemoryBytes, NanoCPUs: c.NanoCPUs, Labels: c.Labels, StopTimeout: c.StopTimeout, OwnNetwork: c.OwnNetwork}, line)
	if err != nil {
		return nil, err
	}
	return engineContainer{rc}, nil
}

type engineContainer struct{ c *dockerrun.Container }

func (e engineContainer) Wait(ctx context.Context) (int, bool, error) {
	x, err := e.c.Wait(ctx)
	return x.Code, x.OOMKilled, err
}
func (e engineContainer) Stop(ctx context.Context) error   { return e.c.Stop(ctx) }
func (e engineContainer) Remove(ctx context.Context) error { return e.c.Remove(ctx) }
