package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicediscovery"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// relayPort is where the relay container listens (PORT).
const relayPort = 8080

// directPort is where each task's agent takes direct connections from its
// network peers' agents (SOCKERLESS_ECS_DIRECT_PORT, package relay/direct).
const directPort = 7012

// agentsAlias is the alias of the functions Lambda whose Function URL
// (auth NONE) agents report through.
const agentsAlias = "agents"

// AgentBinaryPath is where `make lambda` puts the static agent in the
// functions zip (Lambda unpacks it into /var/task).
const AgentBinaryPath = "/var/task/sockerless-agent"

// Outputs are what runner hosts need, the stack's exports.
type Outputs struct {
	// ShimEnvironment is exactly the environment the shim on a runner
	// host needs, besides AWS credentials.
	ShimEnvironment pulumi.StringMapOutput
	// RunnerHostPolicy is an IAM policy (JSON) for runner hosts.
	RunnerHostPolicy pulumi.StringOutput
	FunctionName     pulumi.StringOutput
	StateTableName   pulumi.StringOutput
	RelayURL         pulumi.StringOutput
	RelayDNSTarget   pulumi.StringOutput
	ClusterARN       pulumi.StringOutput
	ImageRepository  pulumi.StringOutput
	WorkloadLogGroup pulumi.StringOutput
	SecretARN        pulumi.StringOutput
	// AgentReportURL is the Function URL (auth NONE) agents report
	// through; functions finds it itself (SOCKERLESS_AGENT_URL_ALIAS).
	AgentReportURL pulumi.StringOutput
}

// names are the deployment's resource names, the Terraform module's.
type names struct {
	prefix, table, cluster, functions, workloadLogs, relayLogs, functionsLogs, repository, secret string
}

func newNames(prefix string) names {
	return names{
		prefix:        prefix,
		table:         prefix + "-state",
		cluster:       prefix,
		functions:     prefix + "-functions",
		workloadLogs:  "/sockerless/" + prefix + "/workloads",
		relayLogs:     "/sockerless/" + prefix + "/relay",
		functionsLogs: "/aws/lambda/" + prefix + "-functions",
		repository:    prefix + "-images",
		secret:        prefix + "/deployment-secret",
	}
}

// relayECR matches an image in ECR, whose repository the relay's
// execution role must be allowed to pull from.
var relayECR = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)`)

// deploy declares the control plane for one AWS account: the same
// resources as terraform/aws.
func deploy(ctx *pulumi.Context, a Args) (*Outputs, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	n := newNames(a.NamePrefix)
	region, err := aws.GetRegion(ctx, &aws.GetRegionArgs{})
	if err != nil {
		return nil, err
	}
	caller, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
	if err != nil {
		return nil, err
	}
	part, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{})
	if err != nil {
		return nil, err
	}
	account, arnPrefix := caller.AccountId, "arn:"+part.Partition
	tags := pulumi.StringMap{"sockerless:deployment": pulumi.String(a.NamePrefix)}
	for k, v := range a.Tags {
		tags[k] = pulumi.String(v)
	}

	// --- network ---
	var vpcID pulumi.StringInput = pulumi.String(a.VpcID)
	subnets := pulumi.ToStringArray(a.SubnetIDs)
	if a.VpcID == "" {
		azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")})
		if err != nil {
			return nil, err
		}
		if len(azs.Names) < 2 {
			return nil, fmt.Errorf("the region has %d availability zones; the load balancer needs two", len(azs.Names))
		}
		vpc, err := ec2.NewVpc(ctx, "vpc", &ec2.VpcArgs{CidrBlock: pulumi.String(a.VpcCIDR), EnableDnsSupport: pulumi.Bool(true),
			EnableDnsHostnames: pulumi.Bool(true), Tags: withName(tags, a.NamePrefix)})
		if err != nil {
			return nil, err
		}
		igw, err := ec2.NewInternetGateway(ctx, "igw", &ec2.InternetGatewayArgs{VpcId: vpc.ID(), Tags: withName(tags, a.NamePrefix)})
		if err != nil {
			return nil, err
		}
		rt, err := ec2.NewRouteTable(ctx, "public", &ec2.RouteTableArgs{VpcId: vpc.ID(), Tags: withName(tags, a.NamePrefix+"-public"),
			Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()}}})
		if err != nil {
			return nil, err
		}
		subnets = nil
		for i := 0; i < 2; i++ {
			cidr, err := subnetCIDR(a.VpcCIDR, i)
			if err != nil {
				return nil, err
			}
			s, err := ec2.NewSubnet(ctx, fmt.Sprintf("public-%d", i), &ec2.SubnetArgs{VpcId: vpc.ID(), AvailabilityZone: pulumi.String(azs.Names[i]),
				CidrBlock: pulumi.String(cidr), Tags: withName(tags, fmt.Sprintf("%s-public-%d", a.NamePrefix, i))})
			if err != nil {
				return nil, err
			}
			if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("public-%d", i), &ec2.RouteTableAssociationArgs{SubnetId: s.ID(), RouteTableId: rt.ID()}); err != nil {
				return nil, err
			}
			subnets = append(subnets, s.ID())
		}
		vpcID = vpc.ID()
	}
	albSubnets := subnets
	if len(a.ALBSubnetIDs) > 0 {
		albSubnets = pulumi.ToStringArray(a.ALBSubnetIDs)
	}
	allEgress := ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{FromPort: pulumi.Int(0), ToPort: pulumi.Int(0), Protocol: pulumi.String("-1"),
		CidrBlocks: pulumi.ToStringArray([]string{"0.0.0.0/0"})}}
	workloadsSG, err := ec2.NewSecurityGroup(ctx, "workloads", &ec2.SecurityGroupArgs{Name: pulumi.String(a.NamePrefix + "-workloads"),
		Description: pulumi.String("Sockerless workloads: egress; peers' agents on the direct port"), VpcId: vpcID, Egress: allEgress, Tags: tags})
	if err != nil {
		return nil, err
	}
	// Two tasks on one user network connect through their agents directly
	// (authorised per connection by functions) instead of through the relay.
	if _, err := ec2.NewSecurityGroupRule(ctx, "workloads-direct", &ec2.SecurityGroupRuleArgs{Type: pulumi.String("ingress"), SecurityGroupId: workloadsSG.ID(),
		SourceSecurityGroupId: workloadsSG.ID(), FromPort: pulumi.Int(directPort), ToPort: pulumi.Int(directPort), Protocol: pulumi.String("tcp"),
		Description: pulumi.String("agents of network peers, direct connections")}); err != nil {
		return nil, err
	}

	// --- state, secret, logs, images, cluster ---
	table, err := dynamodb.NewTable(ctx, "state", &dynamodb.TableArgs{
		Name: pulumi.String(n.table), BillingMode: pulumi.String("PAY_PER_REQUEST"),
		HashKey: pulumi.String("pk"), RangeKey: pulumi.String("sk"),
		Attributes: dynamodb.TableAttributeArray{
			&dynamodb.TableAttributeArgs{Name: pulumi.String("pk"), Type: pulumi.String("S")},
			&dynamodb.TableAttributeArgs{Name: pulumi.String("sk"), Type: pulumi.String("S")},
			&dynamodb.TableAttributeArgs{Name: pulumi.String("gpk"), Type: pulumi.String("S")},
		},
		GlobalSecondaryIndexes: dynamodb.TableGlobalSecondaryIndexArray{&dynamodb.TableGlobalSecondaryIndexArgs{
			Name: pulumi.String("group"), HashKey: pulumi.String("gpk"), RangeKey: pulumi.String("sk"), ProjectionType: pulumi.String("ALL")}},
		Ttl:                       &dynamodb.TableTtlArgs{AttributeName: pulumi.String("ttl"), Enabled: pulumi.Bool(true)},
		PointInTimeRecovery:       &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(a.StatePointInTimeRecovery)},
		DeletionProtectionEnabled: pulumi.Bool(a.StateDeletionProtection),
		Tags:                      tags,
	})
	if err != nil {
		return nil, err
	}
	secret, err := secretsmanager.NewSecret(ctx, "deployment", &secretsmanager.SecretArgs{Name: pulumi.String(n.secret),
		Description:          pulumi.String("Sockerless deployment secret shared by functions and the relay"),
		RecoveryWindowInDays: pulumi.Int(a.SecretRecoveryWindowDays), Tags: tags})
	if err != nil {
		return nil, err
	}
	secretVersion, err := secretsmanager.NewSecretVersion(ctx, "deployment", &secretsmanager.SecretVersionArgs{
		SecretId: secret.ID(), SecretString: pulumi.ToSecret(a.DeploymentSecret).(pulumi.StringOutput)})
	if err != nil {
		return nil, err
	}
	logGroup := func(name, full string) (*cloudwatch.LogGroup, error) {
		return cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{Name: pulumi.String(full), RetentionInDays: pulumi.Int(a.LogRetentionDays), Tags: tags})
	}
	workloadLogs, err := logGroup("workloads", n.workloadLogs)
	if err != nil {
		return nil, err
	}
	relayLogs, err := logGroup("relay", n.relayLogs)
	if err != nil {
		return nil, err
	}
	functionsLogs, err := logGroup("functions", n.functionsLogs)
	if err != nil {
		return nil, err
	}
	repo, err := ecr.NewRepository(ctx, "images", &ecr.RepositoryArgs{Name: pulumi.String(n.repository), ImageTagMutability: pulumi.String("MUTABLE"),
		ForceDelete: pulumi.Bool(a.ForceDestroy), Tags: tags})
	if err != nil {
		return nil, err
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, "images", &ecr.LifecyclePolicyArgs{Repository: repo.Name, Policy: pulumi.String(
		`{"rules":[{"rulePriority":1,"description":"drop untagged manifests after a day","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}`)}); err != nil {
		return nil, err
	}
	cluster, err := ecs.NewCluster(ctx, "cluster", &ecs.ClusterArgs{Name: pulumi.String(n.cluster), Tags: tags,
		Settings: ecs.ClusterSettingArray{&ecs.ClusterSettingArgs{Name: pulumi.String("containerInsights"), Value: pulumi.String("disabled")}}})
	if err != nil {
		return nil, err
	}

	// --- roles ---
	assume := func(service string, sourceAccount bool) pulumi.StringOutput {
		st := pulumi.Map{"Effect": pulumi.String("Allow"), "Action": pulumi.String("sts:AssumeRole"), "Principal": pulumi.Map{"Service": pulumi.String(service)}}
		if sourceAccount {
			st["Condition"] = pulumi.Map{"StringEquals": pulumi.Map{"aws:SourceAccount": pulumi.String(account)}}
		}
		return pulumi.JSONMarshal(pulumi.Map{"Version": pulumi.String("2012-10-17"), "Statement": pulumi.Array{st}})
	}
	role := func(name, service string) (*iam.Role, error) {
		return iam.NewRole(ctx, name, &iam.RoleArgs{Name: pulumi.String(a.NamePrefix + "-" + name),
			AssumeRolePolicy: assume(service, service == "ecs-tasks.amazonaws.com"), Tags: tags})
	}
	rolePolicy := func(r *iam.Role, name string, statements pulumi.Array) error {
		_, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{Name: pulumi.String(a.NamePrefix + "-" + name), Role: r.ID(),
			Policy: pulumi.JSONMarshal(pulumi.Map{"Version": pulumi.String("2012-10-17"), "Statement": statements})})
		return err
	}
	ecrPull := pulumi.ToStringArray([]string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"})
	writeLogs := pulumi.ToStringArray([]string{"logs:CreateLogStream", "logs:PutLogEvents"})
	streams := func(g *cloudwatch.LogGroup) pulumi.StringOutput { return pulumi.Sprintf("%s:*", g.Arn) }

	ecsExecution, err := role("ecs-execution", "ecs-tasks.amazonaws.com")
	if err != nil {
		return nil, err
	}
	if err := rolePolicy(ecsExecution, "ecs-execution", pulumi.Array{
		allow("RegistryLogin", []string{"ecr:GetAuthorizationToken"}, pulumi.String("*")),
		allowActions("PullOwnImages", ecrPull, repo.Arn),
		allowActions("WorkloadLogs", writeLogs, streams(workloadLogs)),
	}); err != nil {
		return nil, err
	}
	ecsTask, err := role("ecs-task", "ecs-tasks.amazonaws.com") // workloads' identity: no permissions
	if err != nil {
		return nil, err
	}
	lambdaWorkload, err := role("lambda-workload", "lambda.amazonaws.com")
	if err != nil {
		return nil, err
	}
	// Lambda workloads write to /aws/lambda/FUNCTION, where functions
	// reads their output and how their invocation ended.
	workloadFunctionLogs := fmt.Sprintf("%s:logs:%s:%s:log-group:/aws/lambda/%s-*", arnPrefix, region.Name, account, a.NamePrefix)
	if err := rolePolicy(lambdaWorkload, "lambda-workload", pulumi.Array{
		allowActions("WorkloadLogs", writeLogs, streams(workloadLogs)),
		allow("OwnFunctionLogs", []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, pulumi.String(workloadFunctionLogs), pulumi.String(workloadFunctionLogs+":*")),
		allowActions("PullOwnImages", ecrPull, repo.Arn),
	}); err != nil {
		return nil, err
	}
	relayExecution, err := role("relay-execution", "ecs-tasks.amazonaws.com")
	if err != nil {
		return nil, err
	}
	relayStatements := pulumi.Array{
		allowActions("RelayLogs", writeLogs, streams(relayLogs)),
		allow("DeploymentSecret", []string{"secretsmanager:GetSecretValue"}, secret.Arn),
	}
	if m := relayECR.FindStringSubmatch(a.RelayImage); m != nil {
		relayStatements = append(relayStatements,
			allow("RegistryLogin", []string{"ecr:GetAuthorizationToken"}, pulumi.String("*")),
			allowActions("PullRelayImage", ecrPull, pulumi.String(fmt.Sprintf("%s:ecr:%s:%s:repository/%s", arnPrefix, m[2], m[1], m[3]))))
	}
	if err := rolePolicy(relayExecution, "relay-execution", relayStatements); err != nil {
		return nil, err
	}

	functionsRole, err := role("functions", "lambda.amazonaws.com")
	if err != nil {
		return nil, err
	}
	workloadFunctions := fmt.Sprintf("%s:lambda:%s:%s:function:%s-*", arnPrefix, region.Name, account, a.NamePrefix)
	taskDefinitions := fmt.Sprintf("%s:ecs:%s:%s:task-definition/%s-*:*", arnPrefix, region.Name, account, a.NamePrefix)
	tasks := fmt.Sprintf("%s:ecs:%s:%s:task/%s/*", arnPrefix, region.Name, account, n.cluster)
	inCluster := pulumi.Map{"ArnEquals": pulumi.Map{"ecs:cluster": cluster.Arn}}
	functionsStatements := pulumi.Array{
		allowActions("StateTable", pulumi.ToStringArray([]string{"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
			"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"}),
			table.Arn, pulumi.Sprintf("%s/index/*", table.Arn)),
		allow("DeploymentSecret", []string{"secretsmanager:GetSecretValue"}, secret.Arn),
		allowActions("OwnLogs", writeLogs, streams(functionsLogs)),
		allow("ReadWorkloadLogs", []string{"logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"}, workloadLogs.Arn, streams(workloadLogs),
			pulumi.String(workloadFunctionLogs), pulumi.String(workloadFunctionLogs+":*")),
		withCondition(allow("RunTasksInOwnCluster", []string{"ecs:RunTask"}, pulumi.String(taskDefinitions)), inCluster),
		withCondition(allow("OwnTasks", []string{"ecs:StopTask", "ecs:DescribeTasks"}, pulumi.String(tasks)), inCluster),
		withCondition(allow("ListOwnTasks", []string{"ecs:ListTasks"}, pulumi.String("*")), inCluster),
		// No resource-level permissions for these; only name_prefix-*
		// definitions can be run (above) or deregistered.
		allow("RegisterTaskDefinitions", []string{"ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitionFamilies"}, pulumi.String("*")),
		allow("OwnTaskDefinitions", []string{"ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions"}, pulumi.String(taskDefinitions)),
		withCondition(allow("TagOnCreate", []string{"ecs:TagResource"}, pulumi.String(taskDefinitions), pulumi.String(tasks)),
			pulumi.Map{"StringEquals": pulumi.Map{"ecs:CreateAction": pulumi.ToStringArray([]string{"RunTask", "RegisterTaskDefinition"})}}),
		withCondition(allow("PassTaskRoles", []string{"iam:PassRole"}, ecsExecution.Arn, ecsTask.Arn),
			pulumi.Map{"StringEquals": pulumi.Map{"iam:PassedToService": pulumi.String("ecs-tasks.amazonaws.com")}}),
		withCondition(allow("PassLambdaWorkloadRole", []string{"iam:PassRole"}, lambdaWorkload.Arn),
			pulumi.Map{"StringEquals": pulumi.Map{"iam:PassedToService": pulumi.String("lambda.amazonaws.com")}}),
		allow("OwnLambdaWorkloads", []string{"lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
			"lambda:InvokeFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionEventInvokeConfig", "lambda:TagResource", "lambda:ListTags"},
			pulumi.String(workloadFunctions)),
		// At start functions looks up the agents' Function URL
		// (SOCKERLESS_AGENT_URL_ALIAS).
		allow("OwnAgentsUrl", []string{"lambda:GetFunctionUrlConfig"}, pulumi.String(fmt.Sprintf("%s:lambda:%s:%s:function:%s:%s", arnPrefix, region.Name, account, n.functions, agentsAlias))),
		// functions' own name matches name_prefix-* too: it must not
		// change or delete itself.
		pulumi.Map{"Sid": pulumi.String("NotItself"), "Effect": pulumi.String("Deny"),
			"Action":   pulumi.ToStringArray([]string{"lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:InvokeFunction", "lambda:TagResource"}),
			"Resource": pulumi.StringArray{pulumi.String(fmt.Sprintf("%s:lambda:%s:%s:function:%s", arnPrefix, region.Name, account, n.functions))}},
		allow("RegistryLogin", []string{"ecr:GetAuthorizationToken"}, pulumi.String("*")),
		allowActions("OwnImageRepository", append(ecrPull, pulumi.ToStringArray([]string{"ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
			"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:DescribeImages", "ecr:BatchDeleteImage"})...), repo.Arn),
	}
	if err := rolePolicy(functionsRole, "functions", functionsStatements); err != nil {
		return nil, err
	}

	// --- functions ---
	callers := a.AllowedCallerAccounts
	if len(callers) == 0 {
		callers = []string{account}
	}
	var accounts []string
	for _, p := range callers {
		acct := regexp.MustCompile(`[0-9]{12}`).FindString(p)
		if !contains(accounts, acct) {
			accounts = append(accounts, acct)
		}
	}
	environment := pulumi.StringMap{
		"SOCKERLESS_STATE":                  pulumi.Sprintf("dynamodb://%s?region=%s", table.Name, region.Name),
		"SOCKERLESS_PROVIDER":               pulumi.String(a.WorkloadProvider),
		"SOCKERLESS_RELAY_URL":              pulumi.String("wss://" + a.RelayDomainName),
		"SOCKERLESS_SECRET_ARN":             secret.Arn,
		"SOCKERLESS_AUTH":                   pulumi.String("aws-iam"),
		"SOCKERLESS_AWS_ACCOUNTS":           pulumi.String(strings.Join(accounts, ",")),
		"SOCKERLESS_ECS_CLUSTER":            cluster.Arn,
		"SOCKERLESS_ECS_SUBNETS":            subnets.ToStringArrayOutput().ApplyT(func(s []string) string { return strings.Join(s, ",") }).(pulumi.StringOutput),
		"SOCKERLESS_ECS_SECURITY_GROUPS":    workloadsSG.ID().ToStringOutput(),
		"SOCKERLESS_ECS_EXECUTION_ROLE_ARN": ecsExecution.Arn,
		"SOCKERLESS_ECS_TASK_ROLE_ARN":      ecsTask.Arn,
		"SOCKERLESS_ECS_ASSIGN_PUBLIC_IP":   pulumi.String(strconv.FormatBool(a.AssignPublicIP)),
		"SOCKERLESS_ECS_DIRECT_PORT":        pulumi.String(strconv.Itoa(directPort)),
		"SOCKERLESS_LOG_GROUP":              workloadLogs.Name,
		"SOCKERLESS_ECR_REPOSITORY":         repo.RepositoryUrl,
		"SOCKERLESS_LAMBDA_ROLE_ARN":        lambdaWorkload.Arn,
		// Workloads' task definitions and functions are named PREFIX-...,
		// the names the functions role's statements are scoped to.
		"SOCKERLESS_NAME_PREFIX": pulumi.String(a.NamePrefix),
		// Agents report through the agents alias's Function URL (below),
		// which functions looks up at start: its address cannot be here.
		"SOCKERLESS_AGENT_URL_ALIAS": pulumi.String(agentsAlias),
		// `make lambda` puts the static linux/amd64 agent next to bootstrap.
		"SOCKERLESS_AGENT_BINARY": pulumi.String(AgentBinaryPath),
	}
	fnArgs := &lambda.FunctionArgs{
		Name: pulumi.String(n.functions), Description: pulumi.String("Sockerless control plane (Docker Engine API handlers)"),
		Role: functionsRole.Arn, Runtime: pulumi.String("provided.al2023"), Handler: pulumi.String("bootstrap"),
		Architectures: pulumi.ToStringArray([]string{a.LambdaArchitecture}), MemorySize: pulumi.Int(a.LambdaMemoryMB), Timeout: pulumi.Int(a.LambdaTimeoutSeconds),
		Environment:   &lambda.FunctionEnvironmentArgs{Variables: environment},
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{LogFormat: pulumi.String("Text"), LogGroup: functionsLogs.Name},
		Tags:          tags,
	}
	if a.LambdaZipPath != "" {
		fnArgs.Code = pulumi.NewFileArchive(a.LambdaZipPath)
	} else {
		fnArgs.S3Bucket, fnArgs.S3Key = pulumi.String(a.LambdaS3Bucket), pulumi.String(a.LambdaS3Key)
	}
	fn, err := lambda.NewFunction(ctx, "functions", fnArgs, pulumi.DependsOn([]pulumi.Resource{secretVersion}))
	if err != nil {
		return nil, err
	}
	url, err := lambda.NewFunctionUrl(ctx, "functions", &lambda.FunctionUrlArgs{FunctionName: fn.Name,
		AuthorizationType: pulumi.String("AWS_IAM"), InvokeMode: pulumi.String("BUFFERED")})
	if err != nil {
		return nil, err
	}
	for _, p := range callers {
		h := sha1.Sum([]byte(p))
		key := hex.EncodeToString(h[:])[:12]
		if _, err := lambda.NewPermission(ctx, "invoke-url-"+key, &lambda.PermissionArgs{StatementId: pulumi.String("InvokeFunctionUrl-" + key),
			Action: pulumi.String("lambda:InvokeFunctionUrl"), Function: fn.Name, Principal: pulumi.String(p),
			FunctionUrlAuthType: pulumi.String("AWS_IAM")}); err != nil {
			return nil, err
		}
		// Since October 2025 a Function URL call needs lambda:InvokeFunction too.
		if _, err := lambda.NewPermission(ctx, "invoke-"+key, &lambda.PermissionArgs{StatementId: pulumi.String("InvokeFunction-" + key),
			Action: pulumi.String("lambda:InvokeFunction"), Function: fn.Name, Principal: pulumi.String(p)}); err != nil {
			return nil, err
		}
	}

	// The agents' route: agents cannot sign with SigV4 as the AWS_IAM URL
	// wants (they hold a per-container token), so they report through
	// this alias's URL, whose auth is NONE. functions checks their token
	// itself and answers 401 to any other request without a verified IAM
	// caller, so the URL reaches nothing but /_sockerless/agent/*.
	alias, err := lambda.NewAlias(ctx, "agents", &lambda.AliasArgs{Name: pulumi.String(agentsAlias), FunctionName: fn.Name,
		FunctionVersion: pulumi.String("$LATEST"), Description: pulumi.String("Workloads' agents report exits and health here (token-authenticated by functions)")})
	if err != nil {
		return nil, err
	}
	agentsURL, err := lambda.NewFunctionUrl(ctx, "agents", &lambda.FunctionUrlArgs{FunctionName: fn.Name, Qualifier: alias.Name,
		AuthorizationType: pulumi.String("NONE"), InvokeMode: pulumi.String("BUFFERED")})
	if err != nil {
		return nil, err
	}
	if _, err := lambda.NewPermission(ctx, "agents-url", &lambda.PermissionArgs{StatementId: pulumi.String("AgentsFunctionUrl"),
		Action: pulumi.String("lambda:InvokeFunctionUrl"), Function: fn.Name, Qualifier: alias.Name, Principal: pulumi.String("*"),
		FunctionUrlAuthType: pulumi.String("NONE")}); err != nil {
		return nil, err
	}
	// A Function URL call needs lambda:InvokeFunction too; it reaches the
	// same handler, with the same token checks.
	if _, err := lambda.NewPermission(ctx, "agents-invoke", &lambda.PermissionArgs{StatementId: pulumi.String("AgentsInvokeFunction"),
		Action: pulumi.String("lambda:InvokeFunction"), Function: fn.Name, Qualifier: alias.Name, Principal: pulumi.String("*")}); err != nil {
		return nil, err
	}

	// --- relay ---
	albSG, err := ec2.NewSecurityGroup(ctx, "relay-lb", &ec2.SecurityGroupArgs{Name: pulumi.String(a.NamePrefix + "-relay-lb"),
		Description: pulumi.String("Sockerless relay load balancer: wss from shims and agents"), VpcId: vpcID, Tags: tags,
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{Description: pulumi.String("wss"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			Protocol: pulumi.String("tcp"), CidrBlocks: pulumi.ToStringArray(a.RelayAllowedCIDRs)}}})
	if err != nil {
		return nil, err
	}
	relaySG, err := ec2.NewSecurityGroup(ctx, "relay", &ec2.SecurityGroupArgs{Name: pulumi.String(a.NamePrefix + "-relay"),
		Description: pulumi.String("Sockerless relay tasks: the load balancer only"), VpcId: vpcID, Egress: allEgress, Tags: tags})
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewSecurityGroupRule(ctx, "lb-to-relay", &ec2.SecurityGroupRuleArgs{Type: pulumi.String("egress"), SecurityGroupId: albSG.ID(),
		SourceSecurityGroupId: relaySG.ID(), FromPort: pulumi.Int(relayPort), ToPort: pulumi.Int(relayPort), Protocol: pulumi.String("tcp")}); err != nil {
		return nil, err
	}
	if _, err := ec2.NewSecurityGroupRule(ctx, "relay-from-lb", &ec2.SecurityGroupRuleArgs{Type: pulumi.String("ingress"), SecurityGroupId: relaySG.ID(),
		SourceSecurityGroupId: albSG.ID(), FromPort: pulumi.Int(relayPort), ToPort: pulumi.Int(relayPort), Protocol: pulumi.String("tcp")}); err != nil {
		return nil, err
	}
	// Relay tasks hand a request to the task holding its agent, session
	// or blob directly on the relay port (relay/server/cluster.go), and
	// find each other by DNS: ECS registers each running task's address
	// under relay.NAMESPACE (Cloud Map, private to the VPC).
	if _, err := ec2.NewSecurityGroupRule(ctx, "relay-from-relay", &ec2.SecurityGroupRuleArgs{Type: pulumi.String("ingress"), SecurityGroupId: relaySG.ID(),
		SourceSecurityGroupId: relaySG.ID(), FromPort: pulumi.Int(relayPort), ToPort: pulumi.Int(relayPort), Protocol: pulumi.String("tcp"),
		Description: pulumi.String("from the other relay tasks")}); err != nil {
		return nil, err
	}
	relayNamespace := a.NamePrefix + ".sockerless.internal"
	ns, err := servicediscovery.NewPrivateDnsNamespace(ctx, "relay", &servicediscovery.PrivateDnsNamespaceArgs{Name: pulumi.String(relayNamespace),
		Description: pulumi.String("Sockerless relay tasks of " + a.NamePrefix), Vpc: vpcID, Tags: tags})
	if err != nil {
		return nil, err
	}
	discovery, err := servicediscovery.NewService(ctx, "relay", &servicediscovery.ServiceArgs{Name: pulumi.String("relay"), Tags: tags,
		DnsConfig: &servicediscovery.ServiceDnsConfigArgs{NamespaceId: ns.ID(), RoutingPolicy: pulumi.String("MULTIVALUE"),
			DnsRecords: servicediscovery.ServiceDnsConfigDnsRecordArray{&servicediscovery.ServiceDnsConfigDnsRecordArgs{Type: pulumi.String("A"), Ttl: pulumi.Int(10)}}},
		HealthCheckCustomConfig: &servicediscovery.ServiceHealthCheckCustomConfigArgs{FailureThreshold: pulumi.Int(1)}})
	if err != nil {
		return nil, err
	}
	alb, err := lb.NewLoadBalancer(ctx, "relay", &lb.LoadBalancerArgs{Name: pulumi.String(a.NamePrefix + "-relay"), LoadBalancerType: pulumi.String("application"),
		Internal: pulumi.Bool(false), SecurityGroups: pulumi.StringArray{albSG.ID()}, Subnets: albSubnets,
		IdleTimeout: pulumi.Int(a.RelayIdleTimeoutSeconds), Tags: tags})
	if err != nil {
		return nil, err
	}
	tg, err := lb.NewTargetGroup(ctx, "relay", &lb.TargetGroupArgs{Name: pulumi.String(a.NamePrefix + "-relay"), Port: pulumi.Int(relayPort),
		Protocol: pulumi.String("HTTP"), TargetType: pulumi.String("ip"), VpcId: vpcID, DeregistrationDelay: pulumi.Int(40), Tags: tags,
		HealthCheck: &lb.TargetGroupHealthCheckArgs{Path: pulumi.String("/healthz"), Matcher: pulumi.String("200"), Interval: pulumi.Int(15),
			HealthyThreshold: pulumi.Int(2), UnhealthyThreshold: pulumi.Int(3)}})
	if err != nil {
		return nil, err
	}
	listener, err := lb.NewListener(ctx, "relay", &lb.ListenerArgs{LoadBalancerArn: alb.Arn, Port: pulumi.Int(443), Protocol: pulumi.String("HTTPS"),
		SslPolicy: pulumi.String("ELBSecurityPolicy-TLS13-1-2-2021-06"), CertificateArn: pulumi.String(a.CertificateARN), Tags: tags,
		DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{Type: pulumi.String("forward"), TargetGroupArn: tg.Arn}}})
	if err != nil {
		return nil, err
	}
	containers := pulumi.JSONMarshal(pulumi.Array{pulumi.Map{
		"name": pulumi.String("relay"), "image": pulumi.String(a.RelayImage), "essential": pulumi.Bool(true), "stopTimeout": pulumi.Int(40),
		"portMappings": pulumi.Array{pulumi.Map{"containerPort": pulumi.Int(relayPort), "protocol": pulumi.String("tcp")}},
		"environment": pulumi.Array{
			pulumi.Map{"name": pulumi.String("PORT"), "value": pulumi.String(strconv.Itoa(relayPort))},
			pulumi.Map{"name": pulumi.String("SOCKERLESS_PING_INTERVAL"), "value": pulumi.String(fmt.Sprintf("%ds", a.RelayPingIntervalSeconds))},
			pulumi.Map{"name": pulumi.String("SOCKERLESS_RELAY_PEERS_DNS"), "value": pulumi.String("relay." + relayNamespace)},
		},
		// ECS reads the secret with the execution role and sets it in
		// the container only.
		"secrets": pulumi.Array{pulumi.Map{"name": pulumi.String("SOCKERLESS_SECRET"), "valueFrom": secret.Arn}},
		"logConfiguration": pulumi.Map{"logDriver": pulumi.String("awslogs"), "options": pulumi.Map{
			"awslogs-group": relayLogs.Name, "awslogs-region": pulumi.String(region.Name), "awslogs-stream-prefix": pulumi.String("relay")}},
	}})
	td, err := ecs.NewTaskDefinition(ctx, "relay", &ecs.TaskDefinitionArgs{Family: pulumi.String(a.NamePrefix + "-relay"),
		RequiresCompatibilities: pulumi.ToStringArray([]string{"FARGATE"}), NetworkMode: pulumi.String("awsvpc"),
		Cpu: pulumi.String(strconv.Itoa(a.RelayCPU)), Memory: pulumi.String(strconv.Itoa(a.RelayMemory)), ExecutionRoleArn: relayExecution.Arn,
		RuntimePlatform:      &ecs.TaskDefinitionRuntimePlatformArgs{OperatingSystemFamily: pulumi.String("LINUX"), CpuArchitecture: pulumi.String(a.RelayCPUArchitecture)},
		ContainerDefinitions: containers, Tags: tags})
	if err != nil {
		return nil, err
	}
	// Any number of relay tasks serve one deployment, so a deployment runs
	// new tasks beside the old; a replaced task drains for 30 s and its
	// agents reconnect to the others.
	minHealthy, maxPercent := 100, 200
	svc, err := ecs.NewService(ctx, "relay", &ecs.ServiceArgs{Name: pulumi.String(a.NamePrefix + "-relay"), Cluster: cluster.Arn, TaskDefinition: td.Arn,
		LaunchType: pulumi.String("FARGATE"), DesiredCount: pulumi.Int(a.RelayMinCount),
		DeploymentMinimumHealthyPercent: pulumi.Int(minHealthy), DeploymentMaximumPercent: pulumi.Int(maxPercent),
		HealthCheckGracePeriodSeconds: pulumi.Int(30), Tags: tags,
		NetworkConfiguration: &ecs.ServiceNetworkConfigurationArgs{Subnets: subnets, SecurityGroups: pulumi.StringArray{relaySG.ID()}, AssignPublicIp: pulumi.Bool(a.AssignPublicIP)},
		LoadBalancers:        ecs.ServiceLoadBalancerArray{&ecs.ServiceLoadBalancerArgs{TargetGroupArn: tg.Arn, ContainerName: pulumi.String("relay"), ContainerPort: pulumi.Int(relayPort)}},
		ServiceRegistries:    &ecs.ServiceServiceRegistriesArgs{RegistryArn: discovery.Arn},
	}, pulumi.DependsOn([]pulumi.Resource{listener}), pulumi.IgnoreChanges([]string{"desiredCount"}))
	if err != nil {
		return nil, err
	}
	if a.RelayAutoscaling {
		if err := relayScaling(ctx, a, cluster, svc, alb, tg, tags); err != nil {
			return nil, err
		}
	}
	if a.Route53ZoneID != "" {
		if _, err := route53.NewRecord(ctx, "relay", &route53.RecordArgs{ZoneId: pulumi.String(a.Route53ZoneID), Name: pulumi.String(a.RelayDomainName),
			Type:    pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{Name: alb.DnsName, ZoneId: alb.ZoneId, EvaluateTargetHealth: pulumi.Bool(false)}}}); err != nil {
			return nil, err
		}
	}

	return &Outputs{
		ShimEnvironment: pulumi.StringMap{
			"SOCKERLESS_CONTROL_PLANE_URL": url.FunctionUrl,
			"SOCKERLESS_AUTH":              pulumi.String("aws-iam"),
			"SOCKERLESS_AWS_REGION":        pulumi.String(region.Name),
		}.ToStringMapOutput(),
		RunnerHostPolicy: pulumi.JSONMarshal(pulumi.Map{"Version": pulumi.String("2012-10-17"), "Statement": pulumi.Array{
			withCondition(allow("CallSockerlessControlPlane", []string{"lambda:InvokeFunctionUrl"}, fn.Arn),
				pulumi.Map{"StringEquals": pulumi.Map{"lambda:FunctionUrlAuthType": pulumi.String("AWS_IAM")}}),
			allow("InvokeSockerlessControlPlane", []string{"lambda:InvokeFunction"}, fn.Arn),
		}}),
		FunctionName:     fn.Name,
		StateTableName:   table.Name,
		RelayURL:         pulumi.String("wss://" + a.RelayDomainName).ToStringOutput(),
		RelayDNSTarget:   alb.DnsName,
		ClusterARN:       cluster.Arn,
		ImageRepository:  repo.RepositoryUrl,
		WorkloadLogGroup: workloadLogs.Name,
		SecretARN:        secret.Arn,
		AgentReportURL:   agentsURL.FunctionUrl,
	}, nil
}

// relayScaling scales the relay service by connection count: the load
// balancer's open connections per healthy relay task, both the load
// balancer's own (free) metrics.
func relayScaling(ctx *pulumi.Context, a Args, cluster *ecs.Cluster, svc *ecs.Service, alb *lb.LoadBalancer, tg *lb.TargetGroup, tags pulumi.StringMap) error {
	target, err := appautoscaling.NewTarget(ctx, "relay", &appautoscaling.TargetArgs{ServiceNamespace: pulumi.String("ecs"),
		ResourceId:        pulumi.Sprintf("service/%s/%s", cluster.Name, svc.Name),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"), MinCapacity: pulumi.Int(a.RelayMinCount), MaxCapacity: pulumi.Int(a.RelayMaxCount), Tags: tags})
	if err != nil {
		return err
	}
	type (
		metricArgs    = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs
		statArgs      = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
		statMetric    = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
		dimensionArgs = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs
		dimensions    = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArray
	)
	lbDim := &dimensionArgs{Name: pulumi.String("LoadBalancer"), Value: alb.ArnSuffix}
	_, err = appautoscaling.NewPolicy(ctx, "relay-connections", &appautoscaling.PolicyArgs{
		Name: pulumi.String(a.NamePrefix + "-relay-connections"), PolicyType: pulumi.String("TargetTrackingScaling"),
		ServiceNamespace: target.ServiceNamespace, ResourceId: target.ResourceId, ScalableDimension: target.ScalableDimension,
		TargetTrackingScalingPolicyConfiguration: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
			TargetValue: pulumi.Float64(a.RelayConnectionsPerTask), ScaleInCooldown: pulumi.Int(300), ScaleOutCooldown: pulumi.Int(60),
			CustomizedMetricSpecification: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs{
				Metrics: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArray{
					&metricArgs{Id: pulumi.String("connections"), Label: pulumi.String("open connections"), ReturnData: pulumi.Bool(false),
						MetricStat: &statArgs{Stat: pulumi.String("Sum"), Metric: &statMetric{Namespace: pulumi.String("AWS/ApplicationELB"),
							MetricName: pulumi.String("ActiveConnectionCount"), Dimensions: dimensions{lbDim}}}},
					&metricArgs{Id: pulumi.String("tasks"), Label: pulumi.String("healthy relay tasks"), ReturnData: pulumi.Bool(false),
						MetricStat: &statArgs{Stat: pulumi.String("Average"), Metric: &statMetric{Namespace: pulumi.String("AWS/ApplicationELB"),
							MetricName: pulumi.String("HealthyHostCount"), Dimensions: dimensions{lbDim,
								&dimensionArgs{Name: pulumi.String("TargetGroup"), Value: tg.ArnSuffix}}}}},
					&metricArgs{Id: pulumi.String("per_task"), Label: pulumi.String("open connections per relay task"),
						Expression: pulumi.String("IF(tasks > 0, connections / tasks, connections)"), ReturnData: pulumi.Bool(true)},
				},
			},
		},
	})
	return err
}

// allow is an Allow statement of actions on resources.
func allow(sid string, actions []string, resources ...pulumi.StringInput) pulumi.Map {
	return allowActions(sid, pulumi.ToStringArray(actions), resources...)
}

func allowActions(sid string, actions pulumi.StringArray, resources ...pulumi.StringInput) pulumi.Map {
	return pulumi.Map{"Sid": pulumi.String(sid), "Effect": pulumi.String("Allow"), "Action": actions, "Resource": pulumi.StringArray(resources)}
}

func withCondition(statement pulumi.Map, condition pulumi.Map) pulumi.Map {
	statement["Condition"] = condition
	return statement
}

// withName adds a Name tag.
func withName(tags pulumi.StringMap, name string) pulumi.StringMap {
	out := pulumi.StringMap{"Name": pulumi.String(name)}
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// subnetCIDR is Terraform's cidrsubnet(cidr, 4, i) for an IPv4 block.
func subnetCIDR(cidr string, i int) (string, error) {
	var a, b, c, d, bits int
	if _, err := fmt.Sscanf(cidr, "%d.%d.%d.%d/%d", &a, &b, &c, &d, &bits); err != nil || bits > 24 {
		return "", fmt.Errorf("vpcCidr %q: want an IPv4 block of /24 or larger", cidr)
	}
	ip := uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d)
	ip += uint32(i) << (32 - (bits + 4))
	return fmt.Sprintf("%d.%d.%d.%d/%d", ip>>24, ip>>16&0xff, ip>>8&0xff, ip&0xff, bits+4), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
