package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	testAccount = "111122223333"
	testRegion  = "eu-west-1"
	testSecret  = "test-secret-0123456789abcdef0123456789abcdef"
)

// mocks stands in for AWS: resources get realistic ARNs from their
// names, and the provider's functions answer for one account and region.
type mocks struct {
	mu        sync.Mutex
	resources map[string]resource.PropertyMap // "type::name" -> inputs as registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	name := args.Name
	if v, ok := args.Inputs["name"]; ok && v.IsString() {
		name = v.StringValue()
	}
	arn := func(service, rest string) {
		outs["arn"] = resource.NewStringProperty(fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, testRegion, testAccount, rest))
	}
	switch args.TypeToken {
	case "aws:dynamodb/table:Table":
		arn("dynamodb", "table/"+name)
	case "aws:secretsmanager/secret:Secret":
		arn("secretsmanager", "secret:"+name+"-AbCdEf")
	case "aws:cloudwatch/logGroup:LogGroup":
		arn("logs", "log-group:"+name)
	case "aws:ecr/repository:Repository":
		arn("ecr", "repository/"+name)
		outs["repositoryUrl"] = resource.NewStringProperty(testAccount + ".dkr.ecr." + testRegion + ".amazonaws.com/" + name)
	case "aws:servicediscovery/service:Service":
		arn("servicediscovery", "service/srv-0123456789abcdef")
	case "aws:ecs/cluster:Cluster":
		arn("ecs", "cluster/"+name)
	case "aws:iam/role:Role":
		outs["arn"] = resource.NewStringProperty("arn:aws:iam::" + testAccount + ":role/" + name)
	case "aws:lambda/function:Function":
		arn("lambda", "function:"+name)
	case "aws:lambda/functionUrl:FunctionUrl":
		outs["functionUrl"] = resource.NewStringProperty("https://abcdefghijklmnopqrstuvwxyz012345.lambda-url." + testRegion + ".on.aws/")
	case "aws:lb/loadBalancer:LoadBalancer":
		arn("elasticloadbalancing", "loadbalancer/app/"+name+"/0123456789abcdef")
		outs["arnSuffix"] = resource.NewStringProperty("app/" + name + "/0123456789abcdef")
		outs["dnsName"] = resource.NewStringProperty(name + "-123456." + testRegion + ".elb.amazonaws.com")
	case "aws:lb/targetGroup:TargetGroup":
		arn("elasticloadbalancing", "targetgroup/"+name+"/0123456789abcdef")
		outs["arnSuffix"] = resource.NewStringProperty("targetgroup/" + name + "/0123456789abcdef")
	case "aws:ecs/taskDefinition:TaskDefinition":
		arn("ecs", "task-definition/"+args.Inputs["family"].StringValue()+":1")
	}
	m.mu.Lock()
	m.resources[args.TypeToken+"::"+args.Name] = args.Inputs
	m.mu.Unlock()
	return args.Name + "-id", outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": testRegion, "id": testRegion}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{"accountId": testAccount, "id": testAccount}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "id": "aws"}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{"names": []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"}, "id": testRegion}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// get returns the registered inputs of one resource.
func (m *mocks) get(t *testing.T, typ, name string) resource.PropertyMap {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.resources[typ+"::"+name]
	if !ok {
		t.Fatalf("no %s named %s", typ, name)
	}
	return r
}

// all returns the registered resources of one type, by name.
func (m *mocks) all(typ string) map[string]resource.PropertyMap {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]resource.PropertyMap{}
	for k, v := range m.resources {
		if t, name, _ := strings.Cut(k, "::"); t == typ {
			out[name] = v
		}
	}
	return out
}

// exported are the program's outputs, resolved.
type exported struct {
	shim         map[string]string
	runnerPolicy string
	secretARN    string
}

// run deploys args against the mocks.
func run(t *testing.T, args Args) (*mocks, exported) {
	t.Helper()
	m := &mocks{resources: map[string]resource.PropertyMap{}}
	var got exported
	var wg sync.WaitGroup
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		args.DeploymentSecret = pulumi.ToSecret(pulumi.String(testSecret)).(pulumi.StringOutput)
		out, err := deploy(ctx, args)
		if err != nil {
			return err
		}
		wg.Add(1)
		pulumi.All(out.ShimEnvironment, out.RunnerHostPolicy, out.SecretARN).ApplyT(func(v []any) error {
			defer wg.Done()
			got = exported{shim: v[0].(map[string]string), runnerPolicy: v[1].(string), secretARN: v[2].(string)}
			return nil
		})
		return nil
	}, pulumi.WithMocks("sockerless-aws", "test", m))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return m, got
}

func testArgs() Args {
	a := defaultArgs()
	a.NamePrefix = "sltest"
	a.LambdaZipPath = "testdata/bootstrap.zip"
	a.RelayImage = testAccount + ".dkr.ecr." + testRegion + ".amazonaws.com/sockerless-relay:1"
	a.RelayDomainName = "relay.sockerless.example"
	a.CertificateARN = "arn:aws:acm:" + testRegion + ":" + testAccount + ":certificate/00000000-0000-0000-0000-000000000000"
	return a
}

// str reads a string at a path of nested objects and arrays (ints index).
func str(t *testing.T, p resource.PropertyMap, path ...any) string {
	t.Helper()
	v := resource.NewObjectProperty(p)
	for _, k := range path {
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		switch k := k.(type) {
		case string:
			if !v.IsObject() {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			v = v.ObjectValue()[resource.PropertyKey(k)]
		case int:
			if !v.IsArray() || len(v.ArrayValue()) <= k {
				t.Fatalf("%v: no element %d", path, k)
			}
			v = v.ArrayValue()[k]
		}
	}
	switch {
	case v.IsString():
		return v.StringValue()
	case v.IsBool():
		return fmt.Sprint(v.BoolValue())
	case v.IsNumber():
		return fmt.Sprint(v.NumberValue())
	case v.IsNull():
		return ""
	}
	t.Fatalf("%v: %v is not a scalar", path, v)
	return ""
}

type statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any
}

func policy(t *testing.T, text string) []statement {
	t.Helper()
	var doc struct{ Statement []statement }
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("policy %q: %v", text, err)
	}
	return doc.Statement
}

func TestControlPlane(t *testing.T) {
	m, out := run(t, testArgs())

	url := m.get(t, "aws:lambda/functionUrl:FunctionUrl", "functions")
	if got := str(t, url, "authorizationType"); got != "AWS_IAM" {
		t.Errorf("Function URL auth %q, want AWS_IAM", got)
	}
	perms := m.all("aws:lambda/permission:Permission")
	if len(perms) != 4 {
		t.Fatalf("%d Lambda permissions, want InvokeFunctionUrl and InvokeFunction for this account, and the agents alias's two", len(perms))
	}
	for name, p := range perms {
		if strings.HasPrefix(name, "agents-") {
			continue // TestAgentsRoute
		}
		if str(t, p, "principal") != testAccount {
			t.Errorf("permission %s for %q, want only this account", name, str(t, p, "principal"))
		}
		if str(t, p, "action") == "lambda:InvokeFunctionUrl" && str(t, p, "functionUrlAuthType") != "AWS_IAM" {
			t.Errorf("permission %s: InvokeFunctionUrl without AWS_IAM", name)
		}
	}

	fn := m.get(t, "aws:lambda/function:Function", "functions")
	if str(t, fn, "runtime") != "provided.al2023" || str(t, fn, "handler") != "bootstrap" || str(t, fn, "architectures", 0) != "arm64" {
		t.Errorf("functions runs %s/%s on %s", str(t, fn, "runtime"), str(t, fn, "handler"), str(t, fn, "architectures", 0))
	}
	env := func(k string) string { return str(t, fn, "environment", "variables", k) }
	for k, want := range map[string]string{
		"SOCKERLESS_STATE":                  "dynamodb://sltest-state?region=" + testRegion,
		"SOCKERLESS_AUTH":                   "aws-iam",
		"SOCKERLESS_AWS_ACCOUNTS":           testAccount,
		"SOCKERLESS_PROVIDER":               "ecs",
		"SOCKERLESS_RELAY_URL":              "wss://relay.sockerless.example",
		"SOCKERLESS_SECRET_ARN":             out.secretARN,
		"SOCKERLESS_SECRET":                 "",
		"SOCKERLESS_ECS_CLUSTER":            "arn:aws:ecs:" + testRegion + ":" + testAccount + ":cluster/sltest",
		"SOCKERLESS_ECS_SUBNETS":            "public-0-id,public-1-id",
		"SOCKERLESS_ECS_SECURITY_GROUPS":    "workloads-id",
		"SOCKERLESS_ECS_EXECUTION_ROLE_ARN": "arn:aws:iam::" + testAccount + ":role/sltest-ecs-execution",
		"SOCKERLESS_ECS_TASK_ROLE_ARN":      "arn:aws:iam::" + testAccount + ":role/sltest-ecs-task",
		"SOCKERLESS_ECS_ASSIGN_PUBLIC_IP":   "true",
		"SOCKERLESS_ECS_DIRECT_PORT":        "7012",
		"SOCKERLESS_LOG_GROUP":              "/sockerless/sltest/workloads",
		"SOCKERLESS_ECR_REPOSITORY":         testAccount + ".dkr.ecr." + testRegion + ".amazonaws.com/sltest-images",
		"SOCKERLESS_LAMBDA_ROLE_ARN":        "arn:aws:iam::" + testAccount + ":role/sltest-lambda-workload",
		"SOCKERLESS_AGENT_URL_ALIAS":        "agents",
		"SOCKERLESS_AGENT_BINARY":           "/var/task/sockerless-agent",
		"SOCKERLESS_CONTROL_PLANE_URL":      "", // a cycle: functions finds the agents' URL from the alias
	} {
		if got := env(k); got != want {
			t.Errorf("functions %s=%q, want %q", k, got, want)
		}
	}

	// The state table, exactly as statestore/dynamodb creates it.
	table := m.get(t, "aws:dynamodb/table:Table", "state")
	if str(t, table, "hashKey") != "pk" || str(t, table, "rangeKey") != "sk" || str(t, table, "billingMode") != "PAY_PER_REQUEST" {
		t.Errorf("table keys %s/%s, billing %s", str(t, table, "hashKey"), str(t, table, "rangeKey"), str(t, table, "billingMode"))
	}
	var attrs []string
	for i := range table["attributes"].ArrayValue() {
		attrs = append(attrs, str(t, table, "attributes", i, "name")+":"+str(t, table, "attributes", i, "type"))
	}
	sort.Strings(attrs)
	if !slices.Equal(attrs, []string{"gpk:S", "pk:S", "sk:S"}) {
		t.Errorf("table attributes %v", attrs)
	}
	if n := len(table["globalSecondaryIndexes"].ArrayValue()); n != 1 || str(t, table, "globalSecondaryIndexes", 0, "name") != "group" ||
		str(t, table, "globalSecondaryIndexes", 0, "hashKey") != "gpk" || str(t, table, "globalSecondaryIndexes", 0, "rangeKey") != "sk" ||
		str(t, table, "globalSecondaryIndexes", 0, "projectionType") != "ALL" {
		t.Errorf("table indexes: want exactly group on gpk/sk, ALL")
	}
	if str(t, table, "ttl", "attributeName") != "ttl" || str(t, table, "ttl", "enabled") != "true" {
		t.Errorf("TTL on %q enabled %s, want ttl, true", str(t, table, "ttl", "attributeName"), str(t, table, "ttl", "enabled"))
	}

	// The secret: a Pulumi secret on its way to Secrets Manager (so
	// encrypted in the Pulumi state), and nowhere else.
	version := m.get(t, "aws:secretsmanager/secretVersion:SecretVersion", "deployment")
	if !version["secretString"].IsSecret() {
		t.Error("the secret version's value is not a Pulumi secret (it would be stored in plain text in the state)")
	}
	for typ := range map[string]bool{"aws:lambda/function:Function": true, "aws:ecs/taskDefinition:TaskDefinition": true, "aws:iam/rolePolicy:RolePolicy": true} {
		for name, r := range m.all(typ) {
			if strings.Contains(fmt.Sprint(r.Mappable()), testSecret) {
				t.Errorf("%s %s holds the deployment secret", typ, name)
			}
		}
	}
	if strings.Contains(fmt.Sprint(out), testSecret) {
		t.Error("an export holds the deployment secret")
	}
	td := m.get(t, "aws:ecs/taskDefinition:TaskDefinition", "relay")
	var containers []struct {
		Environment []struct{ Name, Value string }
		Secrets     []struct{ Name, ValueFrom string }
	}
	if err := json.Unmarshal([]byte(str(t, td, "containerDefinitions")), &containers); err != nil || len(containers) != 1 {
		t.Fatalf("relay container definitions: %v", err)
	}
	if len(containers[0].Secrets) != 1 || containers[0].Secrets[0].Name != "SOCKERLESS_SECRET" || containers[0].Secrets[0].ValueFrom != out.secretARN {
		t.Errorf("relay secrets %+v, want SOCKERLESS_SECRET from %s", containers[0].Secrets, out.secretARN)
	}
	if !slices.Contains(containers[0].Environment, struct{ Name, Value string }{"SOCKERLESS_PING_INTERVAL", "15s"}) {
		t.Errorf("relay environment %+v lacks the ping interval", containers[0].Environment)
	}

	// Exports: exactly what the shim needs.
	if len(out.shim) != 3 || out.shim["SOCKERLESS_AUTH"] != "aws-iam" || out.shim["SOCKERLESS_AWS_REGION"] != testRegion ||
		!strings.HasPrefix(out.shim["SOCKERLESS_CONTROL_PLANE_URL"], "https://") {
		t.Errorf("shim environment %v", out.shim)
	}
	fnARN := "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:sltest-functions"
	for _, s := range policy(t, out.runnerPolicy) {
		if !slices.Equal(s.Resource, []string{fnARN}) || s.Effect != "Allow" {
			t.Errorf("runner host statement %+v: want Allow on %s only", s, fnARN)
		}
		if slices.Contains(s.Action, "lambda:InvokeFunctionUrl") && s.Condition["StringEquals"]["lambda:FunctionUrlAuthType"] != "AWS_IAM" {
			t.Errorf("runner host InvokeFunctionUrl without AWS_IAM: %+v", s)
		}
	}

	// The relay.
	alb := m.get(t, "aws:lb/loadBalancer:LoadBalancer", "relay")
	if str(t, alb, "idleTimeout") != "3600" || str(t, alb, "loadBalancerType") != "application" {
		t.Errorf("load balancer %s, idle %s", str(t, alb, "loadBalancerType"), str(t, alb, "idleTimeout"))
	}
	listener := m.get(t, "aws:lb/listener:Listener", "relay")
	if str(t, listener, "protocol") != "HTTPS" || str(t, listener, "certificateArn") != testArgs().CertificateARN {
		t.Errorf("listener %s with %s", str(t, listener, "protocol"), str(t, listener, "certificateArn"))
	}
	scaling := m.get(t, "aws:appautoscaling/policy:Policy", "relay-connections")
	if got := str(t, scaling, "targetTrackingScalingPolicyConfiguration", "customizedMetricSpecification", "metrics", 0, "metricStat", "metric", "metricName"); got != "ActiveConnectionCount" {
		t.Errorf("relay scales on %q, want ActiveConnectionCount", got)
	}
	// Several relay tasks serve one deployment: they find each other
	// through service discovery and reach each other on the relay port.
	target := m.get(t, "aws:appautoscaling/target:Target", "relay")
	if str(t, target, "minCapacity") != "1" || str(t, target, "maxCapacity") != "10" {
		t.Errorf("relay scales from %s to %s tasks, want 1 to 10", str(t, target, "minCapacity"), str(t, target, "maxCapacity"))
	}
	ns := m.get(t, "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", "relay")
	disc := m.get(t, "aws:servicediscovery/service:Service", "relay")
	if str(t, ns, "name") != "sltest.sockerless.internal" || str(t, disc, "name") != "relay" || str(t, disc, "dnsConfig", "dnsRecords", 0, "type") != "A" {
		t.Errorf("relay discovery: namespace %s, service %s", str(t, ns, "name"), str(t, disc, "name"))
	}
	if !slices.Contains(containers[0].Environment, struct{ Name, Value string }{"SOCKERLESS_RELAY_PEERS_DNS", "relay.sltest.sockerless.internal"}) {
		t.Errorf("relay environment %+v lacks the peers' DNS name", containers[0].Environment)
	}
	svc := m.get(t, "aws:ecs/service:Service", "relay")
	discARN := "arn:aws:servicediscovery:" + testRegion + ":" + testAccount + ":service/srv-0123456789abcdef" // the mock's ARN of the discovery service
	if got := str(t, svc, "serviceRegistries", "registryArn"); got != discARN {
		t.Errorf("relay service registers in %q, want the discovery service %q", got, discARN)
	}
	if str(t, svc, "deploymentMinimumHealthyPercent") != "100" || str(t, svc, "deploymentMaximumPercent") != "200" {
		t.Errorf("relay deployment %s-%s%%, want new tasks beside the old (100-200)", str(t, svc, "deploymentMinimumHealthyPercent"), str(t, svc, "deploymentMaximumPercent"))
	}
	peerRule := m.get(t, "aws:ec2/securityGroupRule:SecurityGroupRule", "relay-from-relay")
	if str(t, peerRule, "type") != "ingress" || str(t, peerRule, "fromPort") != "8080" {
		t.Errorf("relay peer rule %v", peerRule)
	}
	workloads := m.get(t, "aws:ec2/securityGroup:SecurityGroup", "workloads")
	if _, ok := workloads["ingress"]; ok || len(workloads["egress"].ArrayValue()) != 1 {
		t.Errorf("workloads' security group has inline ingress or not one egress: %v", workloads)
	}
	// The only way in: the agents' direct port, from the workloads only.
	direct := m.get(t, "aws:ec2/securityGroupRule:SecurityGroupRule", "workloads-direct")
	if str(t, direct, "type") != "ingress" || str(t, direct, "fromPort") != "7012" || str(t, direct, "toPort") != "7012" ||
		str(t, direct, "protocol") != "tcp" || str(t, direct, "securityGroupId") != "workloads-id" || str(t, direct, "sourceSecurityGroupId") != "workloads-id" {
		t.Errorf("workloads' direct rule %v", direct)
	}
}

// TestPermissionsScopedToPrefix: every functions permission names this
// deployment's resources, or is "*" only where AWS has no resource-level
// permission, or under a condition naming the cluster.
func TestPermissionsScopedToPrefix(t *testing.T) {
	m, _ := run(t, testArgs())
	cluster := "arn:aws:ecs:" + testRegion + ":" + testAccount + ":cluster/sltest"
	unscoped := []string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitionFamilies", "ecr:GetAuthorizationToken"}
	var passed, logsRead []string
	for _, s := range policy(t, str(t, m.get(t, "aws:iam/rolePolicy:RolePolicy", "functions"), "policy")) {
		scoped := true
		for _, r := range s.Resource {
			scoped = scoped && strings.Contains(r, "sltest")
		}
		conditioned := s.Condition["ArnEquals"]["ecs:cluster"] == cluster
		onlyUnscoped := true
		for _, a := range s.Action {
			onlyUnscoped = onlyUnscoped && slices.Contains(unscoped, a)
		}
		if !scoped && !(slices.Equal(s.Resource, []string{"*"}) && (onlyUnscoped || conditioned)) {
			t.Errorf("statement %s reaches beyond the deployment: %v on %v", s.Sid, s.Action, s.Resource)
		}
		for _, a := range s.Action {
			switch {
			case a == "lambda:GetFunctionUrlConfig":
				if !slices.Equal(s.Resource, []string{"arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:sltest-functions:agents"}) || len(s.Action) != 1 {
					t.Errorf("statement %s: %v on %v, want only the agents alias's URL looked up", s.Sid, s.Action, s.Resource)
				}
			case strings.HasPrefix(a, "lambda:") && s.Effect == "Allow" && !slices.Equal(s.Resource, []string{"arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:sltest-*"}):
				t.Errorf("statement %s: %s on %v, want only sltest-* functions", s.Sid, a, s.Resource)
			case slices.Contains([]string{"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"}, a) && !conditioned:
				t.Errorf("statement %s: %s not conditioned on the cluster", s.Sid, a)
			case a == "iam:PassRole":
				passed = append(passed, s.Resource...)
			case strings.HasPrefix(a, "logs:") && a != "logs:CreateLogStream" && a != "logs:PutLogEvents":
				logsRead = append(logsRead, s.Resource...)
			}
		}
		if s.Effect == "Deny" && !slices.Equal(s.Resource, []string{"arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:sltest-functions"}) {
			t.Errorf("deny statement on %v, want functions itself", s.Resource)
		}
	}
	sort.Strings(passed)
	role := "arn:aws:iam::" + testAccount + ":role/sltest-"
	if !slices.Equal(passed, []string{role + "ecs-execution", role + "ecs-task", role + "lambda-workload"}) {
		t.Errorf("functions may pass %v, want only its workload roles", passed)
	}
	group := "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:/sockerless/sltest/workloads"
	fnLogs := "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:/aws/lambda/sltest-*"
	want := []string{fnLogs, fnLogs + ":*", group, group + ":*"}
	if sort.Strings(logsRead); !slices.Equal(slices.Compact(logsRead), want) {
		t.Errorf("functions may read logs of %v, want only the workloads' groups %v", logsRead, want)
	}
	var written []string
	for _, s := range policy(t, str(t, m.get(t, "aws:iam/rolePolicy:RolePolicy", "lambda-workload"), "policy")) {
		if strings.HasPrefix(s.Action[0], "logs:") {
			written = append(written, s.Resource...)
		}
	}
	if sort.Strings(written); !slices.Equal(written, []string{fnLogs, fnLogs + ":*", group + ":*"}) {
		t.Errorf("Lambda workloads may write logs of %v, want only their own groups", written)
	}
}

// TestAgentsRoute: agents report through the agents alias's Function URL
// with auth NONE (functions checks their token); the public permissions
// are on that alias only; the shims' URL stays AWS_IAM.
func TestAgentsRoute(t *testing.T) {
	m, _ := run(t, testArgs())
	alias := m.get(t, "aws:lambda/alias:Alias", "agents")
	if str(t, alias, "name") != "agents" || str(t, alias, "functionVersion") != "$LATEST" {
		t.Errorf("agents alias %s on %s", str(t, alias, "name"), str(t, alias, "functionVersion"))
	}
	url := m.get(t, "aws:lambda/functionUrl:FunctionUrl", "agents")
	if str(t, url, "authorizationType") != "NONE" || str(t, url, "qualifier") != "agents" {
		t.Errorf("agents URL auth %q on %q, want NONE on the agents alias", str(t, url, "authorizationType"), str(t, url, "qualifier"))
	}
	if main := m.get(t, "aws:lambda/functionUrl:FunctionUrl", "functions"); str(t, main, "authorizationType") != "AWS_IAM" || main.HasValue("qualifier") {
		t.Errorf("the shims' URL must stay AWS_IAM on the unqualified function")
	}
	for _, name := range []string{"agents-url", "agents-invoke"} {
		p := m.get(t, "aws:lambda/permission:Permission", name)
		if str(t, p, "principal") != "*" || str(t, p, "qualifier") != "agents" {
			t.Errorf("permission %s for %q on %q, want * on the agents alias only", name, str(t, p, "principal"), str(t, p, "qualifier"))
		}
	}
	if p := m.get(t, "aws:lambda/permission:Permission", "agents-url"); str(t, p, "functionUrlAuthType") != "NONE" {
		t.Errorf("agents URL permission for auth %q", str(t, p, "functionUrlAuthType"))
	}
	// The Lambda provider turns off Lambda's retries of its invocations.
	var retries []string
	for _, s := range policy(t, str(t, m.get(t, "aws:iam/rolePolicy:RolePolicy", "functions"), "policy")) {
		if slices.Contains(s.Action, "lambda:PutFunctionEventInvokeConfig") {
			retries = append(retries, s.Resource...)
		}
	}
	if !slices.Equal(retries, []string{"arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:sltest-*"}) {
		t.Errorf("PutFunctionEventInvokeConfig on %v, want the workload functions", retries)
	}
}

func TestOwnVPCAndCallers(t *testing.T) {
	a := testArgs()
	a.VpcID, a.SubnetIDs, a.ALBSubnetIDs = "vpc-0123", []string{"subnet-a", "subnet-b"}, []string{"subnet-pub-a", "subnet-pub-b"}
	a.AssignPublicIP, a.RelayAutoscaling = false, false
	a.AllowedCallerAccounts = []string{"arn:aws:iam::444455556666:role/ci-runners", "777788889999"}
	m, _ := run(t, a)
	if n := len(m.all("aws:ec2/vpc:Vpc")) + len(m.all("aws:ec2/subnet:Subnet")); n != 0 {
		t.Errorf("with vpcId the program created %d network resources", n)
	}
	fn := m.get(t, "aws:lambda/function:Function", "functions")
	for k, want := range map[string]string{"SOCKERLESS_ECS_SUBNETS": "subnet-a,subnet-b", "SOCKERLESS_ECS_ASSIGN_PUBLIC_IP": "false",
		"SOCKERLESS_AWS_ACCOUNTS": "444455556666,777788889999"} {
		if got := str(t, fn, "environment", "variables", k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	var principals []string
	for _, p := range m.all("aws:lambda/permission:Permission") {
		if str(t, p, "action") == "lambda:InvokeFunctionUrl" && !p.HasValue("qualifier") { // the agents alias's: TestAgentsRoute
			principals = append(principals, str(t, p, "principal"))
		}
	}
	sort.Strings(principals)
	if !slices.Equal(principals, []string{"777788889999", "arn:aws:iam::444455556666:role/ci-runners"}) {
		t.Errorf("Function URL callers %v", principals)
	}
	if str(t, m.get(t, "aws:lb/loadBalancer:LoadBalancer", "relay"), "subnets", 0) != "subnet-pub-a" {
		t.Error("the load balancer is not in albSubnetIds")
	}
	if len(m.all("aws:appautoscaling/policy:Policy")) != 0 {
		t.Error("relayAutoscaling=false still scales")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Args)
		wantErr string
	}{
		{"defaults", func(*Args) {}, ""},
		{"bad prefix", func(a *Args) { a.NamePrefix = "Not_Valid" }, "namePrefix"},
		{"zip and s3", func(a *Args) { a.LambdaS3Bucket, a.LambdaS3Key = "b", "k" }, "exactly one"},
		{"no code", func(a *Args) { a.LambdaZipPath = "" }, "exactly one"},
		{"idle below ping", func(a *Args) { a.RelayIdleTimeoutSeconds = 10 }, "relayIdleTimeoutSeconds"},
		{"vpc without subnets", func(a *Args) { a.VpcID = "vpc-1" }, "subnetIds"},
		{"wildcard caller", func(a *Args) { a.AllowedCallerAccounts = []string{"*"} }, "allowedCallerPrincipals"},
		{"max below min", func(a *Args) { a.RelayMinCount, a.RelayMaxCount = 2, 1 }, "relayMaxCount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testArgs()
			tt.mod(&a)
			err := a.validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSubnetCIDR(t *testing.T) {
	for i, want := range []string{"10.42.0.0/20", "10.42.16.0/20"} {
		if got, err := subnetCIDR("10.42.0.0/16", i); err != nil || got != want {
			t.Errorf("subnetCIDR(10.42.0.0/16, %d) = %q, %v; want %q (Terraform's cidrsubnet)", i, got, err, want)
		}
	}
}

// TestProgramConfiguration runs the program as `pulumi up` would, with
// the stack's configuration: keys, JSON lists and the encrypted secret.
func TestProgramConfiguration(t *testing.T) {
	base := map[string]string{
		"sockerless:namePrefix":              "cfgtest",
		"sockerless:lambdaS3Bucket":          "artifacts",
		"sockerless:lambdaS3Key":             "functions-x86_64.zip",
		"sockerless:lambdaArchitecture":      "x86_64",
		"sockerless:relayImage":              "ghcr.io/example/sockerless-relay:1",
		"sockerless:relayDomainName":         "relay.example.org",
		"sockerless:certificateArn":          "arn:aws:acm:eu-west-1:111122223333:certificate/x",
		"sockerless:vpcId":                   "vpc-1",
		"sockerless:subnetIds":               `["subnet-1","subnet-2"]`,
		"sockerless:allowedCallerPrincipals": `["444455556666"]`,
		"sockerless:relayAutoscaling":        "false",
		"sockerless:tags":                    `{"team":"ci"}`,
		"sockerless:deploymentSecret":        testSecret,
	}
	runProgram := func(cfg map[string]string) (*mocks, error) {
		m := &mocks{resources: map[string]resource.PropertyMap{}}
		withConfig := func(info *pulumi.RunInfo) {
			info.Config, info.ConfigSecretKeys = cfg, []string{"sockerless:deploymentSecret"}
		}
		return m, pulumi.RunErr(program, pulumi.WithMocks("sockerless-aws", "test", m), withConfig)
	}

	m, err := runProgram(base)
	if err != nil {
		t.Fatal(err)
	}
	fn := m.get(t, "aws:lambda/function:Function", "functions")
	for k, want := range map[string]string{
		"SOCKERLESS_STATE": "dynamodb://cfgtest-state?region=" + testRegion, "SOCKERLESS_ECS_SUBNETS": "subnet-1,subnet-2",
		"SOCKERLESS_AWS_ACCOUNTS": "444455556666", "SOCKERLESS_RELAY_URL": "wss://relay.example.org",
	} {
		if got := str(t, fn, "environment", "variables", k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if str(t, fn, "s3Bucket") != "artifacts" || str(t, fn, "architectures", 0) != "x86_64" || str(t, fn, "tags", "team") != "ci" {
		t.Errorf("functions from %s on %s, tags %v", str(t, fn, "s3Bucket"), str(t, fn, "architectures", 0), fn["tags"])
	}
	if len(m.all("aws:appautoscaling/policy:Policy")) != 0 || len(m.all("aws:ec2/vpc:Vpc")) != 0 {
		t.Error("relayAutoscaling=false or vpcId ignored")
	}
	if len(policy(t, str(t, m.get(t, "aws:iam/rolePolicy:RolePolicy", "relay-execution"), "policy"))) != 2 {
		t.Error("a relay image outside ECR needs no ECR permissions")
	}

	for _, tt := range []struct{ drop, set, value, wantErr string }{
		{drop: "sockerless:deploymentSecret", wantErr: "deploymentSecret is required"},
		{set: "sockerless:subnetIds", value: "subnet-1", wantErr: "want a JSON list"},
		{set: "sockerless:namePrefix", value: "X", wantErr: "namePrefix"},
	} {
		cfg := map[string]string{}
		for k, v := range base {
			if k != tt.drop {
				cfg[k] = v
			}
		}
		if tt.set != "" {
			cfg[tt.set] = tt.value
		}
		if _, err := runProgram(cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("without %s / with %s=%s: %v, want an error containing %q", tt.drop, tt.set, tt.value, err, tt.wantErr)
		}
	}
}
