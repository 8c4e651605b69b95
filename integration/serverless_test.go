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
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sockerless/sockerless/integration/lambdafront"
	"github.com/sockerless/sockerless/internal/controlauth"
)

// The serverless tests run the built sockerless-functions binary the way
// each platform runs it, with a real relay, a real shim and the real
// docker CLI, and no test code inside any of the three processes:
//
//   - lambda: driven through a test implementation of the Lambda Runtime
//     API, behind a Function-URL-shaped front that verifies the shim's
//     SigV4 signature (AWS_IAM auth) and hands the function one
//     invocation at a time;
//   - cloudrun: plain HTTP on PORT with a bearer token;
//   - azure: the custom-handler environment (FUNCTIONS_CUSTOMHANDLER_PORT)
//     behind a reverse proxy standing in for the Functions host, with a
//     function key.

const (
	slAccessKey = "AKIDSOCKERLESSTEST"
	slSecretKey = "c29ja2VybGVzcy10ZXN0LXNlY3JldC1rZXk"
	slAccount   = "123456789012"
)

type slEnv struct {
	bin   string // directory of the built binaries
	relay string // ws://127.0.0.1:PORT
}

// slSetup builds the binaries and starts one relay shared by the cases.
func slSetup(t *testing.T) slEnv {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rport := mrFreePort(t)
	mrStart(t, "relay", dir+"/sockerless-relay", "PORT="+rport, "SOCKERLESS_SECRET=sl-secret")
	return slEnv{bin: dir, relay: "ws://127.0.0.1:" + rport}
}

// functionsEnv is what every case gives sockerless-functions.
func (e slEnv) functionsEnv() []string {
	return []string{"SOCKERLESS_SECRET=sl-secret", "SOCKERLESS_STATE=memory", "SOCKERLESS_PROVIDER=memory",
		"SOCKERLESS_RELAY_URL=" + e.relay, "SOCKERLESS_LOG_LEVEL=debug"}
}

// shim starts a shim against url with extra environment and returns a
// runner for the docker CLI.
func (e slEnv) shim(t *testing.T, url string, env ...string) runner {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	mrStart(t, "shim", e.bin+"/sockerless", append(env, "SOCKERLESS_CONTROL_PLANE_URL="+url, "SOCKERLESS_LISTEN=unix://"+sock)...)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	mrWait(t, "shim", 60*time.Second, func() error {
		resp, err := client.Get("http://d/_ping")
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	cfg := filepath.Join(dir, "dockercfg")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	return runner{name: "shim", sock: sock, cfg: cfg}
}

// awsShimEnv gives the shim static credentials through the standard AWS
// variables, and keeps the SDK away from any real configuration.
func awsShimEnv() []string { return awsShimEnvWith(slSecretKey) }

// awsShimEnvWith is awsShimEnv with another secret key.
func awsShimEnvWith(secretKey string) []string {
	return []string{"SOCKERLESS_AUTH=aws-iam", "AWS_ACCESS_KEY_ID=" + slAccessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
		"SOCKERLESS_AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
}

// lambda starts the binary under the test Runtime API and a front.
func (e slEnv) lambda(t *testing.T, dropFirst bool) (*lambdafront.Front, string) {
	t.Helper()
	front := lambdafront.New(lambdafront.Options{
		AccountID: slAccount, DropFirst: dropFirst,
		Verifier: &controlauth.SigV4Verifier{Region: "us-east-1", Service: "lambda",
			Lookup: func(id string) (aws.Credentials, bool) {
				return aws.Credentials{AccessKeyID: slAccessKey, SecretAccessKey: slSecretKey}, id == slAccessKey
			}},
	})
	runtime := httptest.NewServer(front.RuntimeAPI())
	t.Cleanup(runtime.Close)
	fn := httptest.NewServer(front)
	t.Cleanup(fn.Close)
	mrStart(t, "functions (lambda)", e.bin+"/sockerless-functions", append(e.functionsEnv(),
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(runtime.URL, "http://"),
		"SOCKERLESS_AUTH=aws-iam", "SOCKERLESS_AWS_ACCOUNTS="+slAccount)...)
	return front, fn.URL
}

// dockerRunWaitLogsEvents is the scenario every platform must pass: a
// container that outlives the poll window, waited for, its logs followed
// and its events listed, then an attached run.
func dockerRunWaitLogsEvents(t *testing.T, r runner) {
	t.Helper()
	r.mustDocker(t, "pull", "alpine:3.20")
	since := time.Now().Add(-time.Second).Unix()
	r.mustDocker(t, "run", "-d", "--name", "slow", "alpine:3.20", "sh", "-c", "echo tick; sleep 22; echo tock; exit 4")
	began := time.Now()
	if out := r.mustDocker(t, "wait", "slow"); strings.TrimSpace(out) != "4" {
		t.Fatalf("docker wait slow = %q, want 4", out)
	}
	if d := time.Since(began); d < 15*time.Second {
		t.Fatalf("docker wait returned after %v: the container should still have been sleeping", d)
	}
	if out := r.mustDocker(t, "logs", "-f", "slow"); out != "tick\ntock\n" {
		t.Fatalf("docker logs -f slow = %q", out)
	}
	out := r.mustDocker(t, "events", "--since", time.Unix(since, 0).Format(time.RFC3339),
		"--until", time.Now().Add(time.Second).Format(time.RFC3339), "--filter", "container=slow", "--format", "{{.Action}}")
	for _, want := range []string{"create", "start", "die"} {
		if !strings.Contains(out, want+"\n") {
			t.Fatalf("docker events for slow lacks %q:\n%s", want, out)
		}
	}
	if out, code := r.docker(t, "run", "--rm", "alpine:3.20", "sh", "-c", "echo hi; exit 3"); out != "hi\n" || code != 3 {
		t.Fatalf("docker run --rm = exit %d, %q; want exit 3, %q", code, out, "hi\n")
	}
}

func TestServerlessPlatforms(t *testing.T) {
	e := slSetup(t)

	t.Run("lambda", func(t *testing.T) {
		t.Parallel()
		front, url := e.lambda(t, false)
		r := e.shim(t, url, awsShimEnv()...)
		dockerRunWaitLogsEvents(t, r)
		// 8 MiB of logs, above Lambda's 6 MB response limit, arrive
		// whole in bounded answers.
		r.mustDocker(t, "run", "--name", "big", "alpine:3.20", "sh", "-c", "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 8388608 1>&2")
		if out, code := r.docker(t, "logs", "big"); code != 0 || len(out) != 8<<20 || !strings.HasSuffix(out, "abcde\n") {
			t.Fatalf("docker logs big: exit %d, %d bytes, want 8 MiB", code, len(out))
		}
		// The 22 s wait took more than one invocation, none of which ran
		// past the poll window by more than a margin.
		waits, longest := 0, time.Duration(0)
		for _, inv := range front.Invocations() {
			if d := inv.End.Sub(inv.Start); d > longest {
				longest = d
			}
			if strings.HasSuffix(inv.Path, "/wait") {
				waits++
			}
		}
		if waits < 2 || longest > 24*time.Second {
			t.Fatalf("wait took %d invocations, the longest invocation %v; want at least 2, each within the 20 s window", waits, longest)
		}
	})

	t.Run("cloudrun", func(t *testing.T) {
		t.Parallel()
		port := mrFreePort(t)
		mrStart(t, "functions (cloud run)", e.bin+"/sockerless-functions", append(e.functionsEnv(),
			"PORT="+port, "K_SERVICE=sockerless", "SOCKERLESS_TOKEN=sl-token")...)
		url := "http://127.0.0.1:" + port
		waitHTTP(t, url+"/_ping", "Bearer sl-token")
		r := e.shim(t, url, "SOCKERLESS_TOKEN=sl-token")
		dockerRunWaitLogsEvents(t, r)
	})

	t.Run("azure", func(t *testing.T) {
		t.Parallel()
		port := mrFreePort(t)
		mrStart(t, "functions (azure)", e.bin+"/sockerless-functions", append(e.functionsEnv(),
			"FUNCTIONS_CUSTOMHANDLER_PORT="+port, "SOCKERLESS_AUTH=azure-key", "SOCKERLESS_FUNCTION_KEY=sl-key")...)
		target, _ := url.Parse("http://127.0.0.1:" + port)
		host := httptest.NewServer(httputil.NewSingleHostReverseProxy(target)) // the Functions host
		t.Cleanup(host.Close)
		waitHTTP(t, "http://127.0.0.1:"+port+"/_ping", "")
		r := e.shim(t, host.URL, "SOCKERLESS_AUTH=azure-key", "SOCKERLESS_FUNCTION_KEY=sl-key")
		dockerRunWaitLogsEvents(t, r)
	})
}

// waitHTTP waits until url answers at all (any status).
func waitHTTP(t *testing.T, url, auth string) {
	t.Helper()
	mrWait(t, url, 60*time.Second, func() error {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
}

// TestServerlessRetry: the front drops the first answer to every request;
// the shim retries what is safe and functions deduplicates, so the CLI
// sees one container started once.
func TestServerlessRetry(t *testing.T) {
	e := slSetup(t)
	front, url := e.lambda(t, true)
	r := e.shim(t, url, awsShimEnv()...)
	r.mustDocker(t, "pull", "alpine:3.20")
	since := time.Now().Add(-time.Second).Format(time.RFC3339)
	id := strings.TrimSpace(r.mustDocker(t, "run", "-d", "--name", "once", "alpine:3.20", "sh", "-c", "echo ran"))
	if out := r.mustDocker(t, "wait", "once"); strings.TrimSpace(out) != "0" {
		t.Fatalf("docker wait once = %q", out)
	}
	if out := r.mustDocker(t, "ps", "-aq", "--no-trunc"); strings.Count(out, "\n") != 1 || strings.TrimSpace(out) != id {
		t.Fatalf("docker ps -aq = %q, want exactly %s", out, id)
	}
	if out := r.mustDocker(t, "logs", "once"); out != "ran\n" {
		t.Fatalf("docker logs once = %q: the workload ran more than once or not at all", out)
	}
	out := r.mustDocker(t, "events", "--since", since, "--until", time.Now().Add(time.Second).Format(time.RFC3339),
		"--filter", "type=container", "--format", "{{.Action}}")
	if strings.Count(out, "create\n") != 1 || strings.Count(out, "start\n") != 1 {
		t.Fatalf("events = %q, want one create and one start", out)
	}
	dropped := map[string]int{}
	for _, inv := range front.Invocations() {
		if inv.Dropped {
			dropped[inv.Method+" "+inv.Path[strings.LastIndex(inv.Path, "/"):]]++
		}
	}
	if dropped["POST /create"] == 0 || dropped["POST /start"] == 0 {
		t.Fatalf("the front dropped %v; the test must drop the first create and start answers", dropped)
	}
}

// TestServerlessAuthRefused: the Function URL refuses unsigned and
// wrongly signed requests, functions refuses requests that did not come
// through Lambda's IAM check, and neither logs the credentials.
func TestServerlessAuthRefused(t *testing.T) {
	e := slSetup(t)
	port := mrFreePort(t)
	log := mrStart(t, "functions", e.bin+"/sockerless-functions", append(e.functionsEnv(),
		"PORT="+port, "SOCKERLESS_TOKEN=right-token")...)
	base := "http://127.0.0.1:" + port
	waitHTTP(t, base+"/_ping", "")
	for _, tt := range []struct{ name, auth string }{
		{"missing", ""}, {"malformed", "Basic cmlnaHQtdG9rZW4="}, {"wrong", "Bearer wrong-token"},
	} {
		req, _ := http.NewRequest("GET", base+"/v1.50/containers/json", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		req.Header.Set("X-Request-Id", "req-"+tt.name)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Message == "" || resp.Header.Get("X-Request-Id") != "req-"+tt.name {
			t.Errorf("%s credentials: status %d, message %q, request id %q; want 401 with a message and the id echoed",
				tt.name, resp.StatusCode, body.Message, resp.Header.Get("X-Request-Id"))
		}
	}
	mrWait(t, "refusal logs", 5*time.Second, func() error {
		if !strings.Contains(log.String(), `"request_id":"req-wrong"`) {
			return errFromString("no JSON log line with the request id")
		}
		return nil
	})
	if strings.Contains(log.String(), "wrong-token") || strings.Contains(log.String(), "right-token") || strings.Contains(log.String(), "cmlnaHQtdG9rZW4") {
		t.Fatalf("functions logged a credential:\n%s", log.String())
	}

	// The Function URL front refuses unsigned and wrongly signed requests.
	_, url := e.lambda(t, false)
	resp, err := http.Get(url + "/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned request through the Function URL: status %d, want 403", resp.StatusCode)
	}
	bad := e.shim(t, url, awsShimEnvWith("wrong")...)
	if out, code := bad.docker(t, "ps"); code == 0 || !strings.Contains(out, "signature does not match") {
		t.Fatalf("docker ps with a wrong secret key: exit %d\n%s", code, out)
	}
}

type errFromString string

func (e errFromString) Error() string { return string(e) }
