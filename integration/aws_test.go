package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/sockerless/sockerless/integration/lambdafront"
	"github.com/sockerless/sockerless/integration/localcloud/awscloud"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestAWS is the whole path on AWS, locally: the real docker CLI through
// the shim to sockerless-functions running as a Lambda function (under the
// test Runtime API front, three instances sharing DynamoDB Local, as
// Lambda scales out), its ECS or Lambda provider, and the local AWS
// (package awscloud: the ECS and Lambda fakes running every task or
// invocation as a real container with the real agent inside, moto's
// CloudWatch Logs, ECR API, IAM, and a registry standing in for ECR).
func TestAWS(t *testing.T) {
	ctx := context.Background()
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := awscloud.Start(ctx, awscloud.Options{ModuleDir: root, EngineHost: os.Getenv("SOCKERLESS_LOCALCLOUD_ENGINE")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)
	e := slSetup(t)
	dynamo := emulators.StartDynamoDB(t)
	for _, provider := range []string{"ecs", "lambda"} {
		t.Run(provider, func(t *testing.T) { awsScenarios(t, ctx, cloud, e, dynamo, provider) })
	}
}

func awsScenarios(t *testing.T, ctx context.Context, cloud *awscloud.Cloud, e slEnv, dynamo, provider string) {
	state := "dynamodb://sockerless-" + provider + "?region=us-east-1&endpoint=" + dynamo

	front := lambdafront.New(lambdafront.Options{AccountID: slAccount, Timeout: 60 * time.Second})
	runtime := httptest.NewServer(front.RuntimeAPI())
	t.Cleanup(runtime.Close)
	fn := httptest.NewServer(front)
	t.Cleanup(fn.Close)
	env := append(append([]string{}, cloud.Env...),
		"SOCKERLESS_SECRET=sl-secret", "SOCKERLESS_STATE="+state, "SOCKERLESS_PROVIDER="+provider, "SOCKERLESS_RELAY_URL="+e.relay,
		"SOCKERLESS_TOKEN=aws-token", "SOCKERLESS_CONTROL_PLANE_URL="+fn.URL, "SOCKERLESS_LOG_LEVEL=debug",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(runtime.URL, "http://"), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	for i := 0; i < 3; i++ {
		mrStart(t, "functions (lambda, ecs)", e.bin+"/sockerless-functions", env...)
	}
	r := e.shim(t, fn.URL, "SOCKERLESS_TOKEN=aws-token")
	img := cloud.Image
	ecsClient := awsecs.NewFromConfig(aws.Config{Region: awscloud.Region, Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
		BaseEndpoint: aws.String(envValue(cloud.Env, "AWS_ENDPOINT_URL_ECS"))})
	running := func() []string {
		out, err := ecsClient.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String(awscloud.Cluster)})
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskArns
	}

	t.Run("run-streams-and-exit", func(t *testing.T) {
		out, errOut, code := awsDocker(t, r, "", "run", "--rm", img, "sh", "-c", "echo out; echo err >&2; exit 3")
		if out != "out\n" || !strings.HasSuffix(errOut, "err\n") || code != 3 {
			t.Fatalf("docker run --rm = %d, stdout %q, stderr %q; want 3, %q, ...%q", code, out, errOut, "out\n", "err\n")
		}
	})

	t.Run("env", func(t *testing.T) {
		// Names Lambda's own settings refuse reach the process.
		out, _, code := awsDocker(t, r, "", "run", "--rm", "-e", "A=1", "-e", "AWS_REGION=eu-west-9", img, "sh", "-c", "echo $A $AWS_REGION")
		if code != 0 || out != "1 eu-west-9\n" {
			t.Fatalf("run -e = %d %q", code, out)
		}
	})

	t.Run("detached-exec-logs-stop", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "box", img, "sh", "-c", "trap 'exit 143' TERM; echo started; while :; do sleep 0.2; done")
		if out := r.mustDocker(t, "ps", "--filter", "name=box", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Up") {
			t.Fatalf("docker ps right after run -d = %q, want Up", out)
		}
		if out, _, _ := awsDocker(t, r, "piped\n", "exec", "-i", "box", "cat"); out != "piped\n" {
			t.Fatalf("exec -i cat = %q", out)
		}
		if out, _, _ := awsDocker(t, r, "", "exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "box", "sh", "-c", "echo $FOO $(pwd) $(id -u)"); out != "bar /tmp 65534\n" {
			t.Fatalf("exec -e -w -u = %q", out)
		}
		if out, _, code := awsDocker(t, r, "", "exec", "box", "sh", "-c", "exit 7"); code != 7 || out != "" {
			t.Fatalf("exec exit 7 = %d %q", code, out)
		}
		if out := r.mustDocker(t, "logs", "box"); out != "started\n" {
			t.Fatalf("docker logs box = %q, want %q", out, "started\n")
		}
		r.mustDocker(t, "stop", "-t", "5", "box")
		if out := r.mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", "box"); strings.TrimSpace(out) != "143" {
			t.Fatalf("exit code after stop = %q, want 143", out)
		}
		r.mustDocker(t, "rm", "box")
	})

	t.Run("exec-tty", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "ttybox", img, "sleep", "infinity")
		// The CLI sends the terminal's size after the start; the pty
		// follows it (the process reads it a moment later).
		cmd := exec.Command("script", "-qec", "stty cols 123 rows 45; docker exec -it ttybox sh -c 'sleep 1; stty size'", "/dev/null")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.sock, "DOCKER_CONFIG="+r.cfg)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "45 123") {
			t.Fatalf("exec -it stty size = %q, %v; want 45 123", out, err)
		}
		r.mustDocker(t, "rm", "-f", "ttybox")
	})

	t.Run("logs-follow-and-wait", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "follow", img, "sh", "-c", "echo one; sleep 2; echo two >&2; exit 4")
		out, errOut, code := awsDocker(t, r, "", "logs", "-f", "follow")
		if code != 0 || out != "one\n" || errOut != "two\n" {
			t.Fatalf("logs -f = %d, stdout %q, stderr %q", code, out, errOut)
		}
		if out := r.mustDocker(t, "wait", "follow"); strings.TrimSpace(out) != "4" {
			t.Fatalf("wait = %q, want 4", out)
		}
		r.mustDocker(t, "rm", "follow")
	})

	t.Run("kill-usr1", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "trap", img, "sh", "-c", "trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.2; done")
		mrWait(t, "trap ready", 60*time.Second, func() error {
			if out, _ := r.docker(t, "logs", "trap"); !strings.Contains(out, "ready") {
				return errNotYet
			}
			return nil
		})
		r.mustDocker(t, "kill", "-s", "USR1", "trap")
		if out := r.mustDocker(t, "wait", "trap"); strings.TrimSpace(out) != "5" {
			t.Fatalf("wait after USR1 = %q, want 5", out)
		}
		if out := r.mustDocker(t, "logs", "trap"); !strings.Contains(out, "got-usr1") {
			t.Fatalf("logs after USR1 = %q", out)
		}
		r.mustDocker(t, "rm", "trap")
	})

	t.Run("attach-before-start", func(t *testing.T) {
		// GitLab Runner's pattern: create with stdin, attach, write the
		// script, then start; the script runs.
		id := strings.TrimSpace(r.mustDocker(t, "create", "-i", img, "sh"))
		out, _, code := awsDocker(t, r, "echo from-stdin; exit 6\n", "start", "-ai", id)
		if out != "from-stdin\n" || code != 6 {
			t.Fatalf("start -ai = %d %q; want 6 %q", code, out, "from-stdin\n")
		}
		r.mustDocker(t, "rm", id)
	})

	t.Run("cp-both-ways", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "cpbox", img, "tail", "-f", "/dev/null")
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("host data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r.mustDocker(t, "cp", filepath.Join(dir, "in.txt"), "cpbox:/tmp/in.txt")
		if out := r.mustDocker(t, "exec", "cpbox", "cat", "/tmp/in.txt"); out != "host data\n" {
			t.Fatalf("file copied in = %q", out)
		}
		r.mustDocker(t, "exec", "cpbox", "sh", "-c", "echo made inside > /tmp/out.txt")
		r.mustDocker(t, "cp", "cpbox:/tmp/out.txt", filepath.Join(dir, "out.txt"))
		if b, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(b) != "made inside\n" {
			t.Fatalf("file copied out = %q, %v", b, err)
		}
		r.mustDocker(t, "rm", "-f", "cpbox")
	})

	t.Run("healthy", func(t *testing.T) {
		r.mustDocker(t, "run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok", "--health-interval", "1s", img,
			"sh", "-c", "touch /tmp/ok; exec sleep 600")
		mrWait(t, "healthy", 60*time.Second, func() error {
			if out, _ := r.docker(t, "inspect", "-f", "{{.State.Health.Status}}", "hc"); strings.TrimSpace(out) != "healthy" {
				return errNotYet
			}
			return nil
		})
		r.mustDocker(t, "rm", "-f", "hc")
	})

	t.Run("out-of-memory", func(t *testing.T) {
		// Over the smallest Fargate size (512 MiB) or the function's
		// 128 MB: the memory limit kills the hog, and ECS says why.
		since := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
		r.mustDocker(t, "run", "-d", "--name", "hog", "-m", "128m", img, "sh", "-c", "head -c 900000000 /dev/zero | tail")
		if out := r.mustDocker(t, "wait", "hog"); strings.TrimSpace(out) != "137" {
			t.Fatalf("wait hog = %q, want 137", out)
		}
		// The agent saw its cgroup's OOM-kill count rise and said so.
		if out := r.mustDocker(t, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog"); strings.TrimSpace(out) != "true 137" {
			t.Fatalf("inspect hog = %q, want OOMKilled true, exit 137", out)
		}
		if out := r.mustDocker(t, "events", "--since", since, "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano), "--filter", "event=oom", "--filter", "container=hog", "--format", "{{.Action}}"); strings.TrimSpace(out) != "oom" {
			t.Fatalf("oom events of hog = %q, want one", out)
		}
		if provider != "ecs" {
			r.mustDocker(t, "rm", "hog")
			return
		}
		// The agent reports the exit before its task has stopped.
		mrWait(t, "a stopped task saying OutOfMemoryError", 60*time.Second, func() error {
			out, err := ecsClient.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String(awscloud.Cluster), DesiredStatus: "STOPPED"})
			if err != nil || len(out.TaskArns) == 0 {
				return errNotYet
			}
			d, err := ecsClient.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(awscloud.Cluster), Tasks: out.TaskArns})
			if err != nil {
				return err
			}
			for _, task := range d.Tasks {
				for _, c := range task.Containers {
					if strings.HasPrefix(aws.ToString(c.Reason), "OutOfMemoryError") && aws.ToInt32(c.ExitCode) == 137 {
						return nil
					}
				}
			}
			return errNotYet
		})
		r.mustDocker(t, "rm", "hog")
	})

	if provider == "ecs" {
		t.Run("agent-died-sweep", func(t *testing.T) {
			// The task stops under the agent (StopTask: SIGTERM, which
			// nothing takes, then SIGKILL): no exit report. No instance
			// watches the task; the sweep finds it stopped and records
			// DescribeTasks' exit code, 137, not the unreported 255.
			r.mustDocker(t, "run", "-d", "--name", "orphan", img, "sh", "-c", "trap '' TERM; sleep 600")
			id := strings.TrimSpace(r.mustDocker(t, "inspect", "-f", "{{.Id}}", "orphan"))
			out, err := ecsClient.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String(awscloud.Cluster), StartedBy: aws.String(id[:36])})
			if err != nil || len(out.TaskArns) != 1 {
				t.Fatalf("tasks of orphan: %v, %v", out, err)
			}
			if _, err := ecsClient.StopTask(ctx, &awsecs.StopTaskInput{Cluster: aws.String(awscloud.Cluster), Task: aws.String(out.TaskArns[0])}); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", r.sock)
			}}}
			mrWait(t, "a sweep that reconciles the orphan", 60*time.Second, func() error {
				resp, err := client.Post("http://d/_sockerless/sweep", "application/json", nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var rep struct{ Reconciled []string }
				if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != http.StatusOK {
					return fmt.Errorf("sweep: %s, %v", resp.Status, err)
				}
				if !slices.Contains(rep.Reconciled, id) {
					return errNotYet
				}
				return nil
			})
			if out := r.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}} {{.State.Error}}", "orphan"); strings.TrimSpace(out) != "exited 137 false" {
				t.Fatalf("inspect orphan after the sweep = %q, want exited 137", out)
			}
			r.mustDocker(t, "rm", "orphan")
		})
	}

	if provider == "lambda" {
		t.Run("limits-at-create", func(t *testing.T) {
			_, errOut, code := awsDocker(t, r, "", "create", "-m", "20g", img, "true")
			if code == 0 || !strings.Contains(errOut, "10240 MB") {
				t.Fatalf("create -m 20g = %d %q; want a refusal naming Lambda's memory range", code, errOut)
			}
			_, errOut, code = awsDocker(t, r, "", "create", "--label", "sockerless.lambda.timeout=3600", img, "true")
			if code == 0 || !strings.Contains(errOut, "15-minute") {
				t.Fatalf("create with a 1 h timeout = %d %q; want a refusal naming the 15-minute maximum", code, errOut)
			}
		})
	}

	t.Run("missing-image", func(t *testing.T) {
		before := len(running())
		_, errOut, code := awsDocker(t, r, "", "run", "--rm", cloud.Registry+"/does-not-exist:1", "true")
		if code != 125 || !strings.Contains(errOut, "not found") {
			t.Fatalf("run of a missing image = %d, %q; want 125 and a not-found message", code, errOut)
		}
		if after := len(running()); after != before {
			t.Fatalf("running tasks %d -> %d after a failed run", before, after)
		}
	})
}

var errNotYet = &notYet{}

type notYet struct{}

func (*notYet) Error() string { return "not yet" }

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// awsDocker runs the docker CLI against r with stdin, keeping stdout and
// stderr apart.
func awsDocker(t *testing.T, r runner, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+r.sock, "DOCKER_CONFIG="+r.cfg)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return o.String(), e.String(), code
}
