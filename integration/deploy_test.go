package integration

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sockerless/sockerless/integration/lambdafront"
	"github.com/sockerless/sockerless/internal/controlauth"
	"github.com/sockerless/sockerless/internal/testutil/emulators"
)

// TestDeployAWSModule applies terraform/aws to moto on loopback, runs the
// control plane the way the module configured it, and destroys it again:
//
//   - terraform init / apply with the aws provider from the machine's
//     local mirror (TF_PLUGIN_MIRROR, default /opt/tf-plugins) through a
//     CLI configuration the test writes, the provider's endpoints pointed
//     at moto by an override file;
//   - the state table is the one statestore/dynamodb expects, and the
//     deployment secret is in Secrets Manager and nowhere in the state or
//     the outputs;
//   - sockerless-functions, started with the environment the module gave
//     its Lambda function plus the local endpoints, finds its table and
//     reads the secret; a relay started with that secret and a shim
//     started with the module's shim_environment answer docker ps and
//     docker run;
//   - terraform destroy removes everything.
//
// What differs from AWS, and why:
//   - moto stores the Lambda function and its Function URL but serves
//     neither, so functions runs under the test Lambda Runtime API behind
//     lambdafront's SigV4-checking Function URL front (AWS_IAM auth, as
//     the module configures it); the shim gets the front's URL instead of
//     the module's, and the rest of shim_environment unchanged.
//   - SOCKERLESS_PROVIDER is memory, not ecs: moto starts no Fargate
//     tasks, and the ECS provider is not part of this binary yet.
//   - SOCKERLESS_RELAY_URL is a relay on loopback, not wss://DOMAIN.
//   - relay_autoscaling is off: moto's Application Auto Scaling lacks
//     ListTagsForResource, which the provider calls after creating a
//     scalable target (the mocked `terraform test` covers the policy).
func TestDeployAWSModule(t *testing.T) {
	t.Parallel() // mostly waits on terraform and moto
	for _, tool := range []string{"terraform", "moto_server", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not on PATH (.ci/tools.sh checks for it): %v", tool, err)
		}
	}
	mirror := tfPluginMirror(t)
	endpoint := emulators.StartMoto(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../cmd/sockerless-functions", "../cmd/sockerless-relay", "../cmd/sockerless")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tf := newDeployTerraform(t, mirror, endpoint, filepath.Join(bin, "sockerless-functions"))
	tf.run(t, "init", "-input=false")
	destroyed := false
	t.Cleanup(func() { // whatever failed, leave moto empty-handed
		if !destroyed {
			tf.run(t, "destroy", "-auto-approve", "-input=false")
		}
	})
	tf.run(t, "apply", "-auto-approve", "-input=false")

	var out struct {
		Shim         struct{ Value map[string]string } `json:"shim_environment"`
		RunnerPolicy struct{ Value string }            `json:"runner_host_policy_json"`
		Table        struct{ Value string }            `json:"state_table_name"`
		Function     struct{ Value string }            `json:"function_name"`
		SecretARN    struct{ Value string }            `json:"deployment_secret_arn"`
	}
	outputsJSON := tf.run(t, "output", "-json")
	if err := json.Unmarshal([]byte(outputsJSON), &out); err != nil {
		t.Fatalf("terraform output -json: %v\n%s", err, outputsJSON)
	}
	shim := out.Shim.Value
	keys := make([]string, 0, len(shim))
	for k := range shim {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !slices.Equal(keys, []string{"SOCKERLESS_AUTH", "SOCKERLESS_AWS_REGION", "SOCKERLESS_CONTROL_PLANE_URL"}) ||
		shim["SOCKERLESS_AUTH"] != "aws-iam" || shim["SOCKERLESS_AWS_REGION"] != deployRegion ||
		!regexp.MustCompile(`^https://[a-z0-9]+\.lambda-url\.`+deployRegion+`\.on\.aws/?$`).MatchString(shim["SOCKERLESS_CONTROL_PLANE_URL"]) {
		t.Fatalf("shim_environment = %v", shim)
	}
	fnEnv := tf.lambdaEnvironment(t, "module.sockerless.aws_lambda_function.functions")
	checkRunnerPolicy(t, out.RunnerPolicy.Value, out.Function.Value)

	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(slAccessKey, slSecretKey, "")
	db := dynamodb.New(dynamodb.Options{Region: deployRegion, BaseEndpoint: aws.String(endpoint), Credentials: creds})
	checkStateTable(t, db, out.Table.Value)

	// The secret: in Secrets Manager, under the ARN functions is given,
	// and in neither the state nor the outputs.
	if fnEnv["SOCKERLESS_SECRET_ARN"] != out.SecretARN.Value || fnEnv["SOCKERLESS_SECRET"] != "" {
		t.Fatalf("functions' environment names secret %q (and SOCKERLESS_SECRET=%q); the deployment's secret is %q",
			fnEnv["SOCKERLESS_SECRET_ARN"], fnEnv["SOCKERLESS_SECRET"], out.SecretARN.Value)
	}
	sm := secretsmanager.New(secretsmanager.Options{Region: deployRegion, BaseEndpoint: aws.String(endpoint), Credentials: creds})
	sv, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(out.SecretARN.Value)})
	if err != nil {
		t.Fatalf("reading the deployment secret from moto: %v", err)
	}
	secret := aws.ToString(sv.SecretString)
	if len(secret) < 64 {
		t.Fatalf("deployment secret is %d characters, want at least 64", len(secret))
	}
	state := tf.run(t, "show", "-json")
	rawState, err := os.ReadFile(filepath.Join(tf.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"terraform show -json": state, "terraform.tfstate": string(rawState), "outputs": outputsJSON} {
		if strings.Contains(text, secret) {
			t.Fatalf("the deployment secret appears in %s", what)
		}
	}

	// The control plane as the module configured it.
	rport := mrFreePort(t)
	mrStart(t, "relay", bin+"/sockerless-relay", "PORT="+rport, "SOCKERLESS_SECRET="+secret)
	account := fnEnv["SOCKERLESS_AWS_ACCOUNTS"]
	front := lambdafront.New(lambdafront.Options{
		AccountID: account,
		Verifier: &controlauth.SigV4Verifier{Region: deployRegion, Service: "lambda",
			Lookup: func(id string) (aws.Credentials, bool) {
				return aws.Credentials{AccessKeyID: slAccessKey, SecretAccessKey: slSecretKey}, id == slAccessKey
			}},
	})
	rt := httptest.NewServer(front.RuntimeAPI())
	t.Cleanup(rt.Close)
	url := httptest.NewServer(front)
	t.Cleanup(url.Close)
	env := make([]string, 0, len(fnEnv)+12)
	for k, v := range fnEnv {
		switch k {
		case "SOCKERLESS_PROVIDER":
			v = "memory"
		case "SOCKERLESS_RELAY_URL":
			v = "ws://127.0.0.1:" + rport
		}
		env = append(env, k+"="+v)
	}
	env = append(env, awsLocalEnv(endpoint)...)
	env = append(env, "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(rt.URL, "http://"), "AWS_REGION="+deployRegion,
		"AWS_LAMBDA_FUNCTION_NAME="+out.Function.Value, "SOCKERLESS_LOG_LEVEL=debug")
	mrStart(t, "functions (lambda)", bin+"/sockerless-functions", env...)

	shimEnv := awsLocalEnv(endpoint)
	for k, v := range shim {
		if k == "SOCKERLESS_CONTROL_PLANE_URL" {
			continue // moto has no Function URL; the front stands in for it
		}
		shimEnv = append(shimEnv, k+"="+v)
	}
	r := slEnv{bin: bin}.shim(t, url.URL, shimEnv...)
	if out := r.mustDocker(t, "ps"); !strings.HasPrefix(out, "CONTAINER ID") {
		t.Fatalf("docker ps = %q", out)
	}
	r.mustDocker(t, "pull", "alpine:3.20")
	before := len(front.Invocations())
	if out, code := r.docker(t, "run", "--rm", "alpine:3.20", "sh", "-c", "echo hi from the deployment; exit 5"); out != "hi from the deployment\n" || code != 5 {
		t.Fatalf("docker run --rm = exit %d, %q; want exit 5 and the echo (the stream crossed the relay with the secret from Secrets Manager)", code, out)
	}
	// What one docker run --rm costs in Lambda invocations (docs/deploy-aws.md).
	var calls []string
	for _, inv := range front.Invocations()[before:] {
		calls = append(calls, inv.Method+" "+inv.Path)
	}
	t.Logf("docker run --rm: %d functions invocations: %s", len(calls), strings.Join(calls, ", "))

	// functions used the module's table and created none of its own.
	tables, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables.TableNames, []string{out.Table.Value}) {
		t.Fatalf("tables after docker run: %v, want only %s", tables.TableNames, out.Table.Value)
	}
	events, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(out.Table.Value),
		KeyConditionExpression:    aws.String("pk = :e"),
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":e": &dbtypes.AttributeValueMemberS{Value: "e"}}})
	if err != nil || events.Count < 3 {
		t.Fatalf("events in %s after docker run: %v, %v; want create, start, die and more", out.Table.Value, events, err)
	}

	tf.run(t, "destroy", "-auto-approve", "-input=false")
	destroyed = true
	if tables, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil || len(tables.TableNames) != 0 {
		t.Fatalf("tables after destroy: %v, %v", tables, err)
	}
	if _, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(out.SecretARN.Value)}); err == nil {
		t.Fatal("the deployment secret survived destroy")
	}
}

// deployRegion is the region the test deploys to.
const deployRegion = "us-east-1"

// awsLocalEnv gives a process moto's endpoint and the test's credentials
// (what the Lambda's role or the runner host's credentials are in AWS),
// and keeps the SDK away from any real configuration.
func awsLocalEnv(endpoint string) []string {
	return []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=" + slAccessKey, "AWS_SECRET_ACCESS_KEY=" + slSecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
}

// tfPluginMirror returns the local provider mirror holding hashicorp/aws.
func tfPluginMirror(t *testing.T) string {
	t.Helper()
	mirror := os.Getenv("TF_PLUGIN_MIRROR")
	if mirror == "" {
		mirror = "/opt/tf-plugins"
	}
	if fi, err := os.Stat(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws")); err != nil || !fi.IsDir() {
		t.Fatalf("no Terraform provider mirror with hashicorp/aws at %s (set TF_PLUGIN_MIRROR; .ci/tools.sh checks for it): %v", mirror, err)
	}
	return mirror
}

// deployTerraform is a root module in a temporary directory that calls
// terraform/aws against moto.
type deployTerraform struct {
	dir string
	env []string
}

func newDeployTerraform(t *testing.T, mirror, endpoint, functionsBin string) deployTerraform {
	t.Helper()
	dir := t.TempDir()
	module, err := filepath.Abs("../terraform/aws")
	if err != nil {
		t.Fatal(err)
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	files := map[string]string{
		// No registry is reachable: providers come from the mirror only.
		"tf.rc": fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["*/*"]
  }
}
`, mirror),
		// What an operator writes (see terraform/aws/examples).
		"main.tf": fmt.Sprintf(`provider "aws" {
  region = %q
}

resource "aws_acm_certificate" "relay" {
  domain_name       = "relay.sockerless.test"
  validation_method = "DNS"
}

module "sockerless" {
  source              = %q
  name_prefix         = "sldeploy"
  lambda_zip_path     = "${path.root}/functions.zip"
  lambda_architecture = %q
  relay_image         = "123456789012.dkr.ecr.%s.amazonaws.com/sockerless-relay:test"
  relay_domain_name   = "relay.sockerless.test"
  certificate_arn     = aws_acm_certificate.relay.arn

  relay_autoscaling           = false # moto lacks Application Auto Scaling's ListTagsForResource
  state_deletion_protection   = false
  secret_recovery_window_days = 0
  force_destroy               = true
}

output "shim_environment" { value = module.sockerless.shim_environment }
output "runner_host_policy_json" { value = module.sockerless.runner_host_policy_json }
output "state_table_name" { value = module.sockerless.state_table_name }
output "function_name" { value = module.sockerless.function_name }
output "deployment_secret_arn" { value = module.sockerless.deployment_secret_arn }
`, deployRegion, module, arch, deployRegion),
		// Every service the module uses, on moto.
		"moto_override.tf": fmt.Sprintf(`provider "aws" {
  access_key                  = "%s"
  secret_key                  = "%s"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    acm                    = %[3]q
    applicationautoscaling = %[3]q
    cloudwatch             = %[3]q
    dynamodb               = %[3]q
    ec2                    = %[3]q
    ecr                    = %[3]q
    ecs                    = %[3]q
    elbv2                  = %[3]q
    iam                    = %[3]q
    lambda                 = %[3]q
    logs                   = %[3]q
    route53                = %[3]q
    s3                     = %[3]q
    secretsmanager         = %[3]q
    servicediscovery       = %[3]q
    sts                    = %[3]q
  }
}
`, slAccessKey, slSecretKey, endpoint),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeLambdaZip(t, filepath.Join(dir, "functions.zip"), functionsBin)
	return deployTerraform{dir: dir, env: []string{
		"TF_CLI_CONFIG_FILE=" + filepath.Join(dir, "tf.rc"), "TF_DATA_DIR=" + filepath.Join(dir, ".terraform"),
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	}}
}

// run runs terraform with args in the root module and returns its stdout.
func (d deployTerraform) run(t *testing.T, args ...string) string {
	t.Helper()
	defer func(start time.Time) { t.Logf("terraform %s: %v", args[0], time.Since(start).Round(time.Second)) }(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, "terraform", append([]string{"-chdir=" + d.dir}, append(args, "-no-color")...)...)
	cmd.Env = append(os.Environ(), d.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("terraform %s: %v\n%s\n%s", strings.Join(args, " "), err, tail(stdout.String(), 8000), stderr.String())
	}
	return stdout.String()
}

// lambdaEnvironment returns the environment of the Lambda function at
// address, as applied.
func (d deployTerraform) lambdaEnvironment(t *testing.T, address string) map[string]string {
	t.Helper()
	var state struct {
		Values struct {
			RootModule tfModule `json:"root_module"`
		}
	}
	if err := json.Unmarshal([]byte(d.run(t, "show", "-json")), &state); err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	state.Values.RootModule.walk(func(r tfResource) {
		if r.Address == address {
			raw = r.Values
		}
	})
	var fn struct {
		Environment []struct{ Variables map[string]string }
	}
	if err := json.Unmarshal(raw, &fn); err != nil || len(fn.Environment) != 1 {
		t.Fatalf("%s not in the state, or without environment: %v", address, err)
	}
	return fn.Environment[0].Variables
}

type tfResource struct {
	Address string
	Values  json.RawMessage
}

type tfModule struct {
	Resources    []tfResource
	ChildModules []tfModule `json:"child_modules"`
}

func (m tfModule) walk(f func(tfResource)) {
	for _, r := range m.Resources {
		f(r)
	}
	for _, c := range m.ChildModules {
		c.walk(f)
	}
}

// writeLambdaZip packs bin as the provided.al2023 runtime expects it: one
// executable named bootstrap at the root.
func writeLambdaZip(t *testing.T, path, bin string) {
	t.Helper()
	in, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// checkStateTable checks the table against what statestore/dynamodb
// creates for itself: pk/sk, the group index on gpk/sk with every
// attribute, TTL on ttl.
func checkStateTable(t *testing.T, db *dynamodb.Client, table string) {
	t.Helper()
	ctx := context.Background()
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("the module's table %s: %v", table, err)
	}
	keys := func(ks []dbtypes.KeySchemaElement) string {
		var s []string
		for _, k := range ks {
			s = append(s, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		return strings.Join(s, ",")
	}
	tb := d.Table
	if got := keys(tb.KeySchema); got != "pk:HASH,sk:RANGE" {
		t.Errorf("key schema %s, want pk:HASH,sk:RANGE", got)
	}
	if len(tb.GlobalSecondaryIndexes) != 1 || aws.ToString(tb.GlobalSecondaryIndexes[0].IndexName) != "group" ||
		keys(tb.GlobalSecondaryIndexes[0].KeySchema) != "gpk:HASH,sk:RANGE" ||
		tb.GlobalSecondaryIndexes[0].Projection.ProjectionType != dbtypes.ProjectionTypeAll {
		t.Errorf("global secondary indexes %+v, want only group on gpk/sk projecting ALL", tb.GlobalSecondaryIndexes)
	}
	if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != dbtypes.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", tb.BillingModeSummary)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "ttl" ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != dbtypes.TimeToLiveStatusEnabled {
		t.Errorf("TTL %+v, %v; want enabled on ttl", ttl, err)
	}
}

// checkRunnerPolicy checks the runner hosts' policy: calling this one
// function's URL with IAM auth, and nothing else.
func checkRunnerPolicy(t *testing.T, policy, function string) {
	t.Helper()
	var doc struct {
		Statement []struct {
			Effect    string
			Action    []string
			Resource  []string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatalf("runner_host_policy_json: %v\n%s", err, policy)
	}
	want := "arn:aws:lambda:" + deployRegion + ":123456789012:function:" + function
	var actions []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || !slices.Equal(s.Resource, []string{want}) {
			t.Fatalf("runner host statement %+v: want Allow on %s only", s, want)
		}
		actions = append(actions, s.Action...)
		if slices.Contains(s.Action, "lambda:InvokeFunctionUrl") && s.Condition["StringEquals"]["lambda:FunctionUrlAuthType"] != "AWS_IAM" {
			t.Fatalf("InvokeFunctionUrl without the AWS_IAM condition: %+v", s)
		}
	}
	sort.Strings(actions)
	if !slices.Equal(actions, []string{"lambda:InvokeFunction", "lambda:InvokeFunctionUrl"}) {
		t.Fatalf("runner host actions %v", actions)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
