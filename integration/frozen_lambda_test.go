package integration

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sockerless/sockerless/integration/lambdafront"
	"github.com/sockerless/sockerless/internal/controlauth"
	"github.com/sockerless/sockerless/internal/testutil/dockerengine"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestFrozenLambda runs sockerless-functions as a Lambda function whose
// process is frozen (SIGSTOP) whenever it has answered and no invocation
// waits, and thawed (SIGCONT) only to serve the next one, as Lambda does:
// anything it left running after an answer — a goroutine sleeping out a
// restart back-off, a detached exec drained in the background — stops
// there. A scheduler (EventBridge's part) invokes the sweep endpoint now
// and then. Restart policies (always, on-failure:3, unless-stopped) must
// still restart, a detached exec must complete and `docker wait` must
// return, through the real docker CLI.
//
// The memory provider runs workloads inside the function's process, so
// they too only run while it is thawed, and a second instance could not
// see them (it would rightly reconcile them as vanished): routing to a
// second instance is TestFrozenLambdaTwoInstances, on the docker provider.
func TestFrozenLambda(t *testing.T) {
	e := slSetup(t)
	fn, freezes := startFrozenFunctions(t, e, "only", e.functionsEnv(), nil)
	r := e.shim(t, fn, awsShimEnv()...)
	frozenLambdaFlow(t, r, "alpine:3.20", freezes)
}

// TestFrozenLambdaTwoInstances is TestFrozenLambda with two function
// instances, each frozen between its own invocations, sharing one
// DynamoDB, behind a front that hands requests to them in turn (as Lambda
// may route any request to any warm instance). Workloads run out of the
// functions' processes (the docker provider, on the reference engine), so
// either instance can drive any of them: a restart is due on one instance
// and done by the other, a wait started on one is answered by the other.
func TestFrozenLambdaTwoInstances(t *testing.T) {
	eng, err := dockerengine.Start(context.Background(), dockerengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop() })
	e := slSetup(t)
	agentBin := filepath.Join(t.TempDir(), "sockerless-agent")
	if out, err := exec.Command("go", "build", "-tags", "osusergo netgo", "-o", agentBin, "../cmd/sockerless-agent").CombinedOutput(); err != nil {
		t.Fatalf("go build agent: %v\n%s", err, out)
	}
	// The engine's containers reach the test's servers through their
	// gateway, a local address of this machine: the relay listens on
	// every address, and so does the agents' URL below.
	gateway := strings.Split(eng.Subnet, ".")
	hostFor := func(port string) string { return gateway[0] + "." + gateway[1] + ".0.1:" + port }
	env := []string{"SOCKERLESS_SECRET=sl-secret", "SOCKERLESS_LOG_LEVEL=debug",
		"SOCKERLESS_RELAY_URL=ws://" + hostFor(strings.TrimPrefix(e.relay, "ws://127.0.0.1:")),
		"SOCKERLESS_STATE=dynamodb://sockerless-frozen?region=us-east-1&endpoint=" + emulators.StartDynamoDB(t),
		"SOCKERLESS_PROVIDER=docker", "SOCKERLESS_DOCKER_HOST=" + eng.Host, "SOCKERLESS_DOCKER_AGENT=" + agentBin}
	// Two URLs, each handing requests to the instances in turn: the
	// function URL (AWS_IAM) for the shim, and the agents' URL (auth NONE,
	// as the deployment's alias URL) that workloads report exits to.
	urls, agentURLs := make([]string, 2), make([]string, 2)
	agentsLn, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "SOCKERLESS_DOCKER_AGENT_CONTROL_PLANE_URL=http://"+hostFor(strconv.Itoa(agentsLn.Addr().(*net.TCPAddr).Port)))
	freezes := make([]*atomic.Int64, 2)
	for i, name := range []string{"a", "b"} {
		var agents string
		urls[i], freezes[i] = startFrozenFunctions(t, e, name, env, &agents)
		agentURLs[i] = agents
	}
	var served [2]atomic.Int64
	turns := func(us []string, count bool) http.Handler {
		targets := []*httputil.ReverseProxy{proxyTo(t, us[0]), proxyTo(t, us[1])}
		var turn atomic.Int64
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			i := turn.Add(1) % 2
			if count {
				served[i].Add(1)
			}
			targets[i].ServeHTTP(w, req)
		})
	}
	front := httptest.NewServer(turns(urls, true))
	t.Cleanup(front.Close)
	agents := &httptest.Server{Listener: agentsLn, Config: &http.Server{Handler: turns(agentURLs, false)}}
	agents.Start()
	t.Cleanup(agents.Close)
	r := e.shim(t, front.URL, awsShimEnv()...)
	frozenLambdaFlow(t, r, dockerengine.BusyboxImage, freezes[0])
	if freezes[1].Load() == 0 {
		t.Fatal("instance b was never frozen")
	}
	t.Logf("requests served: a %d, b %d", served[0].Load(), served[1].Load())
}

// proxyTo forwards requests to the function URL u unchanged (the SigV4
// signature covers the host the shim signed for, which the fronts ignore).
func proxyTo(t *testing.T, u string) *httputil.ReverseProxy {
	target, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(target)
	p.FlushInterval = -1
	return p
}

// startFrozenFunctions runs sockerless-functions with env as a Lambda
// function behind its own front, frozen (SIGSTOP) whenever it has answered
// and no invocation waits, and thawed (SIGCONT) only to serve the next, as
// Lambda does. It returns the function URL and the count of freezes, and
// when agentURL is not nil sets it to the function's URL with auth NONE.
func startFrozenFunctions(t *testing.T, e slEnv, name string, env []string, agentURL *string) (string, *atomic.Int64) {
	t.Helper()
	var pid atomic.Int64
	freezes := new(atomic.Int64)
	signal := func(sig syscall.Signal) {
		if p := int(pid.Load()); p > 0 {
			_ = syscall.Kill(p, sig)
		}
	}
	front := lambdafront.New(lambdafront.Options{
		AccountID: slAccount,
		Verifier: &controlauth.SigV4Verifier{Region: "us-east-1", Service: "lambda",
			Lookup: func(id string) (aws.Credentials, bool) {
				return aws.Credentials{AccessKeyID: slAccessKey, SecretAccessKey: slSecretKey}, id == slAccessKey
			}},
		Freeze: func() { freezes.Add(1); signal(syscall.SIGSTOP) },
		Thaw:   func() { signal(syscall.SIGCONT) },
	})
	runtime := httptest.NewServer(front.RuntimeAPI())
	t.Cleanup(runtime.Close)
	fn := httptest.NewServer(front)
	t.Cleanup(fn.Close)
	if agentURL != nil {
		agents := httptest.NewServer(front.NoAuthURL())
		t.Cleanup(agents.Close)
		*agentURL = agents.URL
	}
	cmd := exec.Command(e.bin + "/sockerless-functions")
	cmd.Env = append(append(os.Environ(), env...),
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(runtime.URL, "http://"),
		"SOCKERLESS_AUTH=aws-iam", "SOCKERLESS_AWS_ACCOUNTS="+slAccount)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid.Store(int64(cmd.Process.Pid))
	t.Cleanup(func() {
		pid.Store(0)
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("functions %s log:\n%s", name, log.String())
		}
	})
	return fn.URL, freezes
}

// frozenLambdaFlow is the flow of TestFrozenLambda through r, on img.
func frozenLambdaFlow(t *testing.T, r runner, img string, freezes *atomic.Int64) {
	t.Helper()
	// The scheduler: a sweep invocation now and then, until the test ends.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", r.sock)
	}}}
	sweep := func() error {
		resp, err := client.Post("http://d/_sockerless/sweep", "application/json", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var rep struct{ Restarted []string }
		if resp.StatusCode != http.StatusOK {
			return &sweepError{resp.Status}
		}
		return json.NewDecoder(resp.Body).Decode(&rep)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = sweep()
			}
		}
	}()
	defer func() { close(stop); <-done }()

	r.mustDocker(t, "pull", img)
	r.mustDocker(t, "run", "-d", "--name", "always", "--restart", "always", img, "true")
	r.mustDocker(t, "run", "-d", "--name", "onfail", "--restart", "on-failure:3", img, "sh", "-c", "exit 1")
	r.mustDocker(t, "run", "-d", "--name", "unless", "--restart", "unless-stopped", img, "sh", "-c", "exit 2")
	r.mustDocker(t, "run", "-d", "--name", "long", img, "sleep", "600")
	r.mustDocker(t, "exec", "-d", "long", "sh", "-c", "echo done > /tmp/detached")

	// docker wait returns the code of a container that ends on its own.
	r.mustDocker(t, "run", "-d", "--name", "waited", img, "sh", "-c", "sleep 1; exit 5")
	if out := strings.TrimSpace(r.mustDocker(t, "wait", "waited")); out != "5" {
		t.Fatalf("docker wait waited = %q, want 5", out)
	}

	restarts := func(name string) (int, string) {
		out := strings.Fields(r.mustDocker(t, "inspect", name, "--format", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"))
		n, _ := strconv.Atoi(out[0])
		return n, strings.Join(out[1:], " ")
	}
	deadline := time.Now().Add(3 * time.Minute) // a hang guard
	for {
		a, _ := restarts("always")
		o, os := restarts("onfail")
		u, _ := restarts("unless")
		out, code := r.docker(t, "exec", "long", "cat", "/tmp/detached")
		if a >= 2 && o == 3 && os == "exited 1" && u >= 2 && code == 0 && strings.TrimSpace(out) == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes: always restarted %d times, on-failure:3 %d (%s), unless-stopped %d; detached exec output %q (%d)",
				a, o, os, u, out, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// on-failure:3 is done: more sweeps do not restart it.
	for range 3 {
		if err := sweep(); err != nil {
			t.Fatal(err)
		}
	}
	if o, os := restarts("onfail"); o != 3 || os != "exited 1" {
		t.Fatalf("on-failure:3 after more sweeps: %d restarts, %s", o, os)
	}
	// A stopped unless-stopped container stays stopped.
	r.mustDocker(t, "stop", "unless")
	u0, _ := restarts("unless")
	for range 3 {
		if err := sweep(); err != nil {
			t.Fatal(err)
		}
	}
	if u, us := restarts("unless"); u != u0 || !strings.HasPrefix(us, "exited") {
		t.Fatalf("a stopped unless-stopped container: %d restarts (was %d), %s", u, u0, us)
	}
	if freezes.Load() == 0 {
		t.Fatal("the function was never frozen")
	}
	t.Logf("the function was frozen %d times", freezes.Load())
}

type sweepError struct{ status string }

func (e *sweepError) Error() string { return "sweep: " + e.status }
