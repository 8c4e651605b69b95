// Package lambdafake is a local stand-in for AWS Lambda's control and
// invoke API for container-image functions, speaking its REST protocol
// (/2015-03-31/functions...) as the official SDKs send it: CreateFunction,
// GetFunction, DeleteFunction, Invoke (RequestResponse and Event) and
// Put/GetFunctionEventInvokeConfig.
//
// Each invocation runs the function's image as a real container on a
// Docker engine (an ecsfake.Runner) with the image config's entry point,
// command and working directory, the function's environment, memory
// limit, and AWS_LAMBDA_RUNTIME_API pointing at a Runtime API this fake
// serves for that invocation (/2018-06-01/runtime/invocation/next,
// /response, /error). The container's output goes to CloudWatch Logs
// (/aws/lambda/NAME) between START and END/REPORT lines, as Lambda writes
// it. The environment is discarded once the invocation is answered (Lambda
// would freeze it) or at the function's timeout.
//
// It refuses what Lambda refuses: names outside its pattern, roles that
// are not role ARNs, memory outside 128-10,240 MB, timeouts over 900 s,
// images that are not in the account's ECR registry (ECRHost) or do not
// exist there, duplicate names.
package lambdafake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sockerless/sockerless/integration/localcloud/ecsfake"
)

// Options configures a Fake.
type Options struct {
	Region, Account string
	// ECRHost is the registry (host:port) images must come from.
	ECRHost string
	Runner  ecsfake.Runner
	Logs    ecsfake.LogSink
	Logger  *slog.Logger
}

// Fake is the Lambda stand-in; an http.Handler. Safe for concurrent use.
type Fake struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
	fns  map[string]*function
	wg   sync.WaitGroup
}

type function struct {
	cfg     map[string]any
	in      createInput
	arn     string
	mu      sync.Mutex
	running map[*invocation]struct{}
	// eventConfig is the PutFunctionEventInvokeConfig answer; nil: none.
	eventConfig map[string]any
}

// New returns a Fake.
func New(opts Options) *Fake {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fake{opts: opts, log: log, fns: map[string]*function{}}
}

// Close ends every running invocation and waits for them.
func (f *Fake) Close() {
	f.mu.Lock()
	for _, fn := range f.fns {
		fn.stopAll()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

type apiError struct {
	status  int
	typ     string
	message string
}

func writeErr(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	rolePattern = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envKey      = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
)

const prefix = "/2015-03-31/functions"

// ServeHTTP routes the REST API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == prefix && r.Method == http.MethodPost:
		f.create(w, r)
	case strings.HasPrefix(p, prefix+"/") && strings.HasSuffix(p, "/invocations") && r.Method == http.MethodPost:
		f.invoke(w, r, strings.TrimSuffix(strings.TrimPrefix(p, prefix+"/"), "/invocations"))
	case strings.HasPrefix(p, prefix+"/") && !strings.Contains(strings.TrimPrefix(p, prefix+"/"), "/"):
		fn := strings.TrimPrefix(p, prefix+"/")
		switch r.Method {
		case http.MethodGet:
			f.get(w, fn)
		case http.MethodDelete:
			f.delete(w, fn)
		default:
			writeErr(w, apiError{405, "InvalidRequestContentException", "method not allowed"})
		}
	case strings.HasPrefix(p, eventConfigPrefix+"/") && strings.HasSuffix(p, "/event-invoke-config") && (r.Method == http.MethodPut || r.Method == http.MethodGet):
		f.eventInvokeConfig(w, r, strings.TrimSuffix(strings.TrimPrefix(p, eventConfigPrefix+"/"), "/event-invoke-config"))
	default:
		writeErr(w, apiError{404, "UnknownOperationException", "operation not served by the local Lambda: " + r.Method + " " + r.URL.Path})
	}
}

// eventConfigPrefix is where Put/GetFunctionEventInvokeConfig live.
const eventConfigPrefix = "/2019-09-25/functions"

// eventInvokeConfig serves PutFunctionEventInvokeConfig (PUT) and
// GetFunctionEventInvokeConfig (GET): how asynchronous invocations are
// retried. The fake keeps and validates it (retries 0-2, event age
// 60-21,600 s, as Lambda does); it never retries an invocation itself.
func (f *Fake) eventInvokeConfig(w http.ResponseWriter, r *http.Request, ref string) {
	fn, ok := f.lookup(ref)
	if !ok {
		f.notFound(w, ref)
		return
	}
	if r.Method == http.MethodPut {
		var in struct {
			MaximumRetryAttempts     *int `json:"MaximumRetryAttempts"`
			MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeErr(w, apiError{400, "InvalidRequestContentException", "could not parse request body into json: " + err.Error()})
			return
		}
		if in.MaximumRetryAttempts != nil && (*in.MaximumRetryAttempts < 0 || *in.MaximumRetryAttempts > 2) {
			writeErr(w, apiError{400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2", *in.MaximumRetryAttempts)})
			return
		}
		if in.MaximumEventAgeInSeconds != nil && (*in.MaximumEventAgeInSeconds < 60 || *in.MaximumEventAgeInSeconds > 21600) {
			writeErr(w, apiError{400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 21600", *in.MaximumEventAgeInSeconds)})
			return
		}
		fn.mu.Lock()
		fn.eventConfig = map[string]any{"FunctionArn": fn.arn + ":$LATEST", "LastModified": float64(time.Now().Unix())}
		if in.MaximumRetryAttempts != nil {
			fn.eventConfig["MaximumRetryAttempts"] = *in.MaximumRetryAttempts
		}
		if in.MaximumEventAgeInSeconds != nil {
			fn.eventConfig["MaximumEventAgeInSeconds"] = *in.MaximumEventAgeInSeconds
		}
		fn.mu.Unlock()
	}
	fn.mu.Lock()
	cfg := fn.eventConfig
	fn.mu.Unlock()
	if cfg == nil {
		writeErr(w, apiError{404, "ResourceNotFoundException", "The function " + fn.arn + " doesn't have an EventInvokeConfig"})
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

type createInput struct {
	FunctionName string `json:"FunctionName"`
	Role         string `json:"Role"`
	PackageType  string `json:"PackageType"`
	Code         struct {
		ImageUri string `json:"ImageUri"`
	} `json:"Code"`
	ImageConfig *struct {
		EntryPoint       []string `json:"EntryPoint"`
		Command          []string `json:"Command"`
		WorkingDirectory string   `json:"WorkingDirectory"`
	} `json:"ImageConfig"`
	Environment *struct {
		Variables map[string]string `json:"Variables"`
	} `json:"Environment"`
	MemorySize *int   `json:"MemorySize"`
	Timeout    *int   `json:"Timeout"`
	Handler    string `json:"Handler"`
	Runtime    string `json:"Runtime"`
}

func (f *Fake) create(w http.ResponseWriter, r *http.Request) {
	var in createInput
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeErr(w, apiError{400, "InvalidRequestContentException", "Could not parse request body into json: " + err.Error()})
		return
	}
	bad := func(msg string, a ...any) {
		writeErr(w, apiError{400, "InvalidParameterValueException", fmt.Sprintf(msg, a...)})
	}
	switch {
	case !namePattern.MatchString(in.FunctionName):
		writeErr(w, apiError{400, "ValidationException", "1 validation error detected: Value '" + in.FunctionName + "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length at most 64"})
		return
	case !rolePattern.MatchString(in.Role):
		writeErr(w, apiError{400, "ValidationException", "1 validation error detected: Value '" + in.Role + "' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"})
		return
	case in.PackageType != "Image":
		bad("The local Lambda serves container-image functions only (PackageType Image).")
		return
	case in.Code.ImageUri == "":
		bad("ImageUri must be specified for functions of package type Image.")
		return
	case in.MemorySize != nil && (*in.MemorySize < 128 || *in.MemorySize > 10240):
		writeErr(w, apiError{400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240", *in.MemorySize)})
		return
	case in.Timeout != nil && (*in.Timeout < 1 || *in.Timeout > 900):
		writeErr(w, apiError{400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900", *in.Timeout)})
		return
	}
	if in.Environment != nil {
		size := 0
		for k, v := range in.Environment.Variables {
			if !envKey.MatchString(k) {
				bad("Environment variable name %q is not valid.", k)
				return
			}
			size += len(k) + len(v)
		}
		if size > 4096 {
			bad("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.")
			return
		}
	}
	ref, err := name.ParseReference(in.Code.ImageUri)
	if err != nil || ref.Context().RegistryStr() != f.opts.ECRHost {
		bad("Source image %s is not valid. Provide a valid source image from an Amazon ECR repository in %s.", in.Code.ImageUri, f.opts.Region)
		return
	}
	if _, err := remote.Head(ref, remote.WithContext(r.Context())); err != nil {
		bad("Source image %s does not exist. Provide a valid source image.", in.Code.ImageUri)
		return
	}
	mem, timeout := 128, 3
	if in.MemorySize != nil {
		mem = *in.MemorySize
	}
	if in.Timeout != nil {
		timeout = *in.Timeout
	}
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.opts.Region, f.opts.Account, in.FunctionName)
	cfg := map[string]any{
		"FunctionName": in.FunctionName, "FunctionArn": arn, "Role": in.Role, "PackageType": "Image", "MemorySize": mem, "Timeout": timeout,
		"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating", "LastUpdateStatus": "InProgress", "Version": "$LATEST", "LastModified": time.Now().UTC().Format("2006-01-02T15:04:05.000+0000"),
		"Architectures": []string{"x86_64"},
	}
	if in.ImageConfig != nil {
		cfg["ImageConfigResponse"] = map[string]any{"ImageConfig": in.ImageConfig}
	}
	if in.Environment != nil {
		cfg["Environment"] = map[string]any{"Variables": in.Environment.Variables}
	}
	if in.MemorySize == nil {
		in.MemorySize = &mem
	}
	if in.Timeout == nil {
		in.Timeout = &timeout
	}
	f.mu.Lock()
	if _, ok := f.fns[in.FunctionName]; ok {
		f.mu.Unlock()
		writeErr(w, apiError{409, "ResourceConflictException", "Function already exist: " + in.FunctionName})
		return
	}
	fn := &function{cfg: cfg, in: in, arn: arn, running: map[*invocation]struct{}{}}
	f.fns[in.FunctionName] = fn
	snapshot := fn.config()
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, snapshot)
	// Like Lambda, the function becomes Active once its image is
	// optimized; here, right after the answer.
	go func() {
		fn.mu.Lock()
		defer fn.mu.Unlock()
		fn.cfg["State"], fn.cfg["LastUpdateStatus"] = "Active", "Successful"
		delete(fn.cfg, "StateReason")
		delete(fn.cfg, "StateReasonCode")
	}()
}

// config is a copy of the function's configuration.
func (fn *function) config() map[string]any {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	out := make(map[string]any, len(fn.cfg))
	for k, v := range fn.cfg {
		out[k] = v
	}
	return out
}

// lookup accepts a name, a partial or a full ARN.
func (f *Fake) lookup(ref string) (*function, bool) {
	if i := strings.LastIndex(ref, ":function:"); i >= 0 {
		ref = ref[i+len(":function:"):]
	}
	ref, _, _ = strings.Cut(ref, ":")
	f.mu.Lock()
	defer f.mu.Unlock()
	fn, ok := f.fns[ref]
	return fn, ok
}

func (f *Fake) notFound(w http.ResponseWriter, ref string) {
	writeErr(w, apiError{404, "ResourceNotFoundException", fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", f.opts.Region, f.opts.Account, ref)})
}

func (f *Fake) get(w http.ResponseWriter, ref string) {
	fn, ok := f.lookup(ref)
	if !ok {
		f.notFound(w, ref)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Configuration": fn.config(), "Code": map[string]string{"ImageUri": fn.in.Code.ImageUri, "RepositoryType": "ECR"}})
}

func (f *Fake) delete(w http.ResponseWriter, ref string) {
	fn, ok := f.lookup(ref)
	if !ok {
		f.notFound(w, ref)
		return
	}
	f.mu.Lock()
	delete(f.fns, fn.in.FunctionName)
	f.mu.Unlock()
	fn.stopAll()
	w.WriteHeader(http.StatusNoContent)
}

func (fn *function) stopAll() {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	for inv := range fn.running {
		inv.cancel()
	}
}

// invocation is one run of a function.
type invocation struct {
	id       string
	payload  []byte
	cancel   context.CancelFunc
	response chan []byte // the runtime's answer (or error document)
	failed   chan []byte
	once     sync.Once
}

func (f *Fake) invoke(w http.ResponseWriter, r *http.Request, ref string) {
	fn, ok := f.lookup(ref)
	if !ok {
		f.notFound(w, ref)
		return
	}
	if st := fn.config()["State"]; st != "Active" {
		writeErr(w, apiError{409, "ResourceConflictException", fmt.Sprintf("The operation cannot be performed at this time. The function is currently in the following state: %v", st)})
		return
	}
	payload, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = "RequestResponse"
	}
	if typ != "RequestResponse" && typ != "Event" && typ != "DryRun" {
		writeErr(w, apiError{400, "InvalidParameterValueException", "invalid invocation type " + typ})
		return
	}
	if typ == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*fn.in.Timeout)*time.Second)
	inv := &invocation{id: newID(), payload: payload, cancel: cancel, response: make(chan []byte, 1), failed: make(chan []byte, 1)}
	fn.mu.Lock()
	fn.running[inv] = struct{}{}
	fn.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer cancel()
		defer func() {
			fn.mu.Lock()
			delete(fn.running, inv)
			fn.mu.Unlock()
		}()
		f.run(ctx, fn, inv)
	}()
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if typ == "Event" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	select {
	case body := <-inv.response:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	case body := <-inv.failed:
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	case <-r.Context().Done():
	}
}

// run runs one invocation's container with its Runtime API.
func (f *Fake) run(ctx context.Context, fn *function, inv *invocation) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		inv.fail(fmt.Sprintf(`{"errorMessage":"runtime api: %v","errorType":"Runtime.Unknown"}`, err))
		return
	}
	srv := &http.Server{Handler: inv.runtimeAPI(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	group := "/aws/lambda/" + fn.in.FunctionName
	stream := time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + newID()
	var logMu, writeMu sync.Mutex
	var lines []ecsfake.LogLine
	kick := make(chan struct{}, 1)
	addLine := func(s string) {
		logMu.Lock()
		lines = append(lines, ecsfake.LogLine{Time: time.Now(), Text: s})
		logMu.Unlock()
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	flush := func() {
		writeMu.Lock() // batches go out in order
		defer writeMu.Unlock()
		logMu.Lock()
		batch := lines
		lines = nil
		logMu.Unlock()
		if f.opts.Logs != nil && len(batch) > 0 {
			if err := f.opts.Logs.Write(context.Background(), group, stream, batch); err != nil {
				f.log.Warn("lambda log events not written", "group", group, "err", err)
			}
		}
	}
	begin := time.Now()
	addLine("START RequestId: " + inv.id + " Version: $LATEST")
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + fn.in.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", *fn.in.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME=" + group,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_REGION=" + f.opts.Region,
		"AWS_DEFAULT_REGION=" + f.opts.Region,
		"LAMBDA_TASK_ROOT=/var/task",
	}
	if fn.in.Environment != nil {
		for k, v := range fn.in.Environment.Variables {
			env = append(env, k+"="+v)
		}
	}
	spec := ecsfake.ContainerSpec{Image: fn.in.Code.ImageUri, Env: env, MemoryBytes: int64(*fn.in.MemorySize) << 20, StopTimeout: time.Second,
		Labels: map[string]string{"com.amazonaws.lambda.function": fn.arn}}
	if ic := fn.in.ImageConfig; ic != nil {
		spec.Entrypoint, spec.Cmd, spec.WorkingDir = ic.EntryPoint, ic.Command, ic.WorkingDirectory
	}
	rc, err := f.opts.Runner.Run(ctx, spec, func(_ int, text []byte) { addLine(string(text)) })
	if err != nil {
		addLine(fmt.Sprintf("INIT_REPORT Status: error Error Type: Runtime.InvalidEntrypoint %v", err))
		flush()
		inv.fail(fmt.Sprintf(`{"errorMessage":%q,"errorType":"Runtime.InvalidEntrypoint"}`, err.Error()))
		return
	}
	waited := make(chan struct{})
	go func() {
		// Output goes to the log as it comes.
		for {
			select {
			case <-waited:
				return
			case <-kick:
				flush()
			}
		}
	}()
	go func() {
		<-ctx.Done() // timeout, delete, or the end of the invocation
		_ = rc.Stop(context.Background())
	}()
	code, _, _ := rc.Wait(context.Background())
	close(waited)
	select {
	case <-inv.response:
		inv.response <- nil // keep it for a waiting caller
	default:
		if ctx.Err() == context.DeadlineExceeded {
			addLine(fmt.Sprintf("%s Task timed out after %d.00 seconds", time.Now().UTC().Format(time.RFC3339), *fn.in.Timeout))
			inv.fail(`{"errorMessage":"Task timed out","errorType":"Sandbox.Timedout"}`)
		} else {
			inv.fail(fmt.Sprintf(`{"errorMessage":"RequestId: %s Error: Runtime exited with error: exit status %d","errorType":"Runtime.ExitError"}`, inv.id, code))
		}
	}
	addLine("END RequestId: " + inv.id)
	addLine(fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB", inv.id,
		float64(time.Since(begin).Microseconds())/1000, time.Since(begin).Milliseconds()+1, *fn.in.MemorySize))
	flush()
	_ = rc.Remove(context.Background())
}

func (inv *invocation) fail(body string) {
	inv.once.Do(func() { inv.failed <- []byte(body) })
}

// runtimeAPI is the invocation's Runtime API: one event, then its answer.
func (inv *invocation) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	var given sync.Once
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		first := false
		given.Do(func() { first = true })
		if !first {
			// One invocation per environment here: the next one never
			// comes (Lambda would freeze the environment).
			<-r.Context().Done()
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(15*time.Minute).UnixMilli()))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != inv.id {
			writeErr(w, apiError{400, "InvalidRequestID", "unknown request id"})
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		inv.once.Do(func() { inv.response <- body })
		w.WriteHeader(http.StatusAccepted)
		// The invocation is answered: the environment is done with.
		go inv.cancel()
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		inv.fail(string(body))
		w.WriteHeader(http.StatusAccepted)
		go inv.cancel()
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		inv.fail(string(body))
		w.WriteHeader(http.StatusAccepted)
		go inv.cancel()
	})
	return mux
}

func newID() string {
	var b [16]byte
	_, _ = io.ReadFull(randReader{}, b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
