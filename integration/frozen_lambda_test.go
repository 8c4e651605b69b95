package integration

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sockerless/sockerless/integration/lambdafront"
	"github.com/sockerless/sockerless/internal/controlauth"
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
// second instance needs an out-of-process provider (see the report).
func TestFrozenLambda(t *testing.T) {
	e := slSetup(t)
	var pid atomic.Int64
	var freezes atomic.Int64
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
	cmd := exec.Command(e.bin + "/sockerless-functions")
	cmd.Env = append(append(os.Environ(), e.functionsEnv()...),
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
			t.Logf("functions log:\n%s", log.String())
		}
	})
	r := e.shim(t, fn.URL, awsShimEnv()...)

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

	r.mustDocker(t, "pull", "alpine:3.20")
	r.mustDocker(t, "run", "-d", "--name", "always", "--restart", "always", "alpine:3.20", "true")
	r.mustDocker(t, "run", "-d", "--name", "onfail", "--restart", "on-failure:3", "alpine:3.20", "sh", "-c", "exit 1")
	r.mustDocker(t, "run", "-d", "--name", "unless", "--restart", "unless-stopped", "alpine:3.20", "sh", "-c", "exit 2")
	r.mustDocker(t, "run", "-d", "--name", "long", "alpine:3.20", "sleep", "600")
	r.mustDocker(t, "exec", "-d", "long", "sh", "-c", "echo done > /tmp/detached")

	// docker wait returns the code of a container that ends on its own.
	r.mustDocker(t, "run", "-d", "--name", "waited", "alpine:3.20", "sh", "-c", "sleep 1; exit 5")
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
