# Plans and applies of the module against a mocked AWS provider: no
# credentials, no network. They pin what the rest of Sockerless relies on
# (the state table's shape, the Function URL's auth type) and what the
# module promises (permissions scoped to the name prefix, no secret
# anywhere it could leak).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/sltest-state" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:sltest/deployment-secret-AbCdEf" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/sltest" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:111122223333:repository/sltest-images"
      repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sltest-images"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/sltest-role" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/sltest-relay/0123456789abcdef"
      arn_suffix = "app/sltest-relay/0123456789abcdef"
      dns_name   = "sltest-relay-123456.eu-west-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/sltest-relay/0123456789abcdef"
      arn_suffix = "targetgroup/sltest-relay/0123456789abcdef"
    }
  }
  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:111122223333:service/srv-0123456789abcdef" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:sltest-functions" }
  }
  mock_resource "aws_lambda_function_url" {
    defaults = { function_url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/" }
  }
}

# Log groups and roles get their ARNs from their names, as AWS gives them.
override_resource {
  target = aws_cloudwatch_log_group.workloads
  values = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/sockerless/sltest/workloads" }
}
override_resource {
  target = aws_cloudwatch_log_group.functions
  values = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/sltest-functions" }
}
override_resource {
  target = aws_cloudwatch_log_group.relay
  values = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/sockerless/sltest/relay" }
}
override_resource {
  target = aws_iam_role.ecs_execution
  values = { arn = "arn:aws:iam::111122223333:role/sltest-ecs-execution" }
}
override_resource {
  target = aws_iam_role.ecs_task
  values = { arn = "arn:aws:iam::111122223333:role/sltest-ecs-task" }
}
override_resource {
  target = aws_iam_role.lambda_workload
  values = { arn = "arn:aws:iam::111122223333:role/sltest-lambda-workload" }
}

variables {
  name_prefix       = "sltest"
  lambda_zip_path   = "tests/fixtures/bootstrap.zip"
  relay_image       = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/sockerless-relay:1"
  relay_domain_name = "relay.sockerless.example"
  certificate_arn   = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
}

run "control_plane" {
  command = apply

  assert {
    condition     = aws_lambda_function_url.functions.authorization_type == "AWS_IAM"
    error_message = "the Function URL must use AWS_IAM auth"
  }
  assert {
    condition     = alltrue([for p in aws_lambda_permission.invoke_url : p.action == "lambda:InvokeFunctionUrl" && p.function_url_auth_type == "AWS_IAM"])
    error_message = "Function URL permissions must be for AWS_IAM callers"
  }
  assert {
    condition     = [for p in aws_lambda_permission.invoke_url : p.principal] == ["111122223333"] && [for p in aws_lambda_permission.invoke : p.principal] == ["111122223333"]
    error_message = "without allowed_caller_principals only this account may call"
  }
  assert {
    condition     = aws_lambda_function.functions.runtime == "provided.al2023" && aws_lambda_function.functions.handler == "bootstrap" && aws_lambda_function.functions.architectures == tolist(["arm64"])
    error_message = "functions runs as bootstrap on provided.al2023, arm64 by default"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_AUTH"] == "aws-iam" && aws_lambda_function.functions.environment[0].variables["SOCKERLESS_AWS_ACCOUNTS"] == "111122223333"
    error_message = "functions must check the IAM caller's account"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_STATE"] == "dynamodb://sltest-state?region=eu-west-1"
    error_message = "functions must use the module's table"
  }
  assert {
    condition = alltrue([for k in ["SOCKERLESS_PROVIDER", "SOCKERLESS_ECS_CLUSTER", "SOCKERLESS_ECS_SUBNETS", "SOCKERLESS_ECS_SECURITY_GROUPS", "SOCKERLESS_ECS_EXECUTION_ROLE_ARN",
      "SOCKERLESS_ECS_TASK_ROLE_ARN", "SOCKERLESS_ECS_ASSIGN_PUBLIC_IP", "SOCKERLESS_LOG_GROUP", "SOCKERLESS_ECR_REPOSITORY", "SOCKERLESS_LAMBDA_ROLE_ARN", "SOCKERLESS_RELAY_URL", "SOCKERLESS_SECRET_ARN"] :
    contains(keys(aws_lambda_function.functions.environment[0].variables), k)])
    error_message = "functions lacks part of the ECS provider's configuration"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_RELAY_URL"] == "wss://relay.sockerless.example" && aws_lambda_function.functions.environment[0].variables["SOCKERLESS_PROVIDER"] == "ecs"
    error_message = "relay URL or provider wrong"
  }
  assert {
    condition     = length(split(",", aws_lambda_function.functions.environment[0].variables["SOCKERLESS_ECS_SUBNETS"])) == 2 && aws_lambda_function.functions.environment[0].variables["SOCKERLESS_ECS_ASSIGN_PUBLIC_IP"] == "true"
    error_message = "the module's own VPC has two public subnets and workloads get public IPs"
  }

  # The state table, exactly as statestore/dynamodb creates it.
  assert {
    condition     = aws_dynamodb_table.state.hash_key == "pk" && aws_dynamodb_table.state.range_key == "sk" && aws_dynamodb_table.state.billing_mode == "PAY_PER_REQUEST"
    error_message = "state table keys must be pk (hash) and sk (range), on demand"
  }
  assert {
    condition     = { for a in aws_dynamodb_table.state.attribute : a.name => a.type } == { pk = "S", sk = "S", gpk = "S" }
    error_message = "state table attributes must be the strings pk, sk and gpk"
  }
  assert {
    condition     = [for g in aws_dynamodb_table.state.global_secondary_index : [g.name, g.hash_key, g.range_key, g.projection_type]] == [["group", "gpk", "sk", "ALL"]]
    error_message = "state table needs exactly the group index (gpk, sk, all attributes)"
  }
  assert {
    condition     = aws_dynamodb_table.state.ttl[0].attribute_name == "ttl" && aws_dynamodb_table.state.ttl[0].enabled
    error_message = "TTL must be enabled on the ttl attribute"
  }

  # No secret: not in the state, not in functions' environment, not in
  # the relay's task definition, not in outputs.
  assert {
    condition     = aws_secretsmanager_secret_version.deployment.secret_string == null && aws_secretsmanager_secret_version.deployment.secret_string_wo == null
    error_message = "the deployment secret must be written write-only, never kept in state"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.functions.environment[0].variables), "SOCKERLESS_SECRET") && aws_lambda_function.functions.environment[0].variables["SOCKERLESS_SECRET_ARN"] == aws_secretsmanager_secret.deployment.arn
    error_message = "functions must get the secret's ARN, not the secret"
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.relay.container_definitions)[0].secrets == [{ name = "SOCKERLESS_SECRET", valueFrom = aws_secretsmanager_secret.deployment.arn }] &&
      !contains([for e in jsondecode(aws_ecs_task_definition.relay.container_definitions)[0].environment : e.name], "SOCKERLESS_SECRET")
    )
    error_message = "the relay must get the secret from Secrets Manager through ECS"
  }
  assert {
    condition     = keys(output.shim_environment) == ["SOCKERLESS_AUTH", "SOCKERLESS_AWS_REGION", "SOCKERLESS_CONTROL_PLANE_URL"]
    error_message = "the shim's environment is exactly URL, auth mode and region"
  }
  assert {
    condition     = output.shim_environment.SOCKERLESS_AUTH == "aws-iam" && output.shim_environment.SOCKERLESS_AWS_REGION == "eu-west-1" && output.shim_environment.SOCKERLESS_CONTROL_PLANE_URL == aws_lambda_function_url.functions.function_url
    error_message = "shim environment values wrong"
  }

  # The relay carries WebSockets for longer than its ping interval, over TLS.
  assert {
    condition     = aws_lb.relay.idle_timeout > var.relay_ping_interval_seconds && aws_lb.relay.load_balancer_type == "application"
    error_message = "the load balancer's idle timeout must exceed the relay's ping interval"
  }
  assert {
    condition     = aws_lb_listener.relay.protocol == "HTTPS" && aws_lb_listener.relay.certificate_arn == var.certificate_arn && aws_lb_target_group.relay.health_check[0].path == "/healthz"
    error_message = "TLS with the given certificate, health checked on /healthz"
  }
  assert {
    condition     = contains([for e in jsondecode(aws_ecs_task_definition.relay.container_definitions)[0].environment : "${e.name}=${e.value}"], "SOCKERLESS_PING_INTERVAL=15s")
    error_message = "the relay's ping interval must be the one the idle timeout was checked against"
  }
  assert {
    condition = (
      aws_appautoscaling_policy.relay_connections[0].policy_type == "TargetTrackingScaling" &&
      contains([for m in aws_appautoscaling_policy.relay_connections[0].target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metrics : try(m.metric_stat[0].metric[0].metric_name, "")], "ActiveConnectionCount")
    )
    error_message = "the relay scales by connection count"
  }

  # Several relay tasks serve one deployment: they find each other through
  # service discovery and reach each other on the relay port.
  assert {
    condition     = aws_appautoscaling_target.relay[0].max_capacity == 10 && aws_appautoscaling_target.relay[0].min_capacity == 1
    error_message = "the relay scales from 1 to relay_max_count (default 10) tasks"
  }
  assert {
    condition = (
      aws_service_discovery_private_dns_namespace.relay.name == "sltest.sockerless.internal" &&
      aws_service_discovery_service.relay.name == "relay" &&
      one(aws_service_discovery_service.relay.dns_config[0].dns_records).type == "A" &&
      contains([for e in jsondecode(aws_ecs_task_definition.relay.container_definitions)[0].environment : "${e.name}=${e.value}"], "SOCKERLESS_RELAY_PEERS_DNS=relay.sltest.sockerless.internal") &&
      one(aws_ecs_service.relay.service_registries).registry_arn == aws_service_discovery_service.relay.arn
    )
    error_message = "relay tasks must be registered under the DNS name their SOCKERLESS_RELAY_PEERS_DNS resolves"
  }
  assert {
    condition = (
      aws_security_group_rule.relay_from_relay.source_security_group_id == aws_security_group.relay.id &&
      aws_security_group_rule.relay_from_relay.security_group_id == aws_security_group.relay.id &&
      aws_security_group_rule.relay_from_relay.from_port == 8080 && aws_security_group_rule.relay_from_relay.type == "ingress"
    )
    error_message = "relay tasks must reach each other on the relay port, and nothing else may"
  }
  assert {
    condition     = aws_ecs_service.relay.deployment_minimum_healthy_percent == 100 && aws_ecs_service.relay.deployment_maximum_percent == 200
    error_message = "a relay deployment starts new tasks beside the old"
  }

  # Workloads: egress only.
  assert {
    condition     = length(aws_security_group.workloads.ingress) == 0 && length(aws_security_group.workloads.egress) == 1
    error_message = "workloads' security group must be egress only"
  }
}

run "agents_route" {
  command = apply

  assert {
    condition     = aws_lambda_function_url.agents.authorization_type == "NONE" && aws_lambda_function_url.agents.qualifier == "agents" && aws_lambda_alias.agents.function_version == "$LATEST"
    error_message = "agents report through the agents alias's Function URL, with auth NONE (their token is checked by functions)"
  }
  assert {
    condition     = aws_lambda_function_url.functions.authorization_type == "AWS_IAM" && aws_lambda_function_url.functions.qualifier == null
    error_message = "the shims' URL stays AWS_IAM on the unqualified function"
  }
  assert {
    condition = (
      aws_lambda_permission.agents_url.principal == "*" && aws_lambda_permission.agents_url.function_url_auth_type == "NONE" &&
      aws_lambda_permission.agents_url.qualifier == "agents" && aws_lambda_permission.agents_invoke.qualifier == "agents"
    )
    error_message = "the public permissions must be on the agents alias only"
  }
  assert {
    condition = (
      aws_lambda_function.functions.environment[0].variables["SOCKERLESS_AGENT_URL_ALIAS"] == aws_lambda_alias.agents.name &&
      !contains(keys(aws_lambda_function.functions.environment[0].variables), "SOCKERLESS_CONTROL_PLANE_URL")
    )
    error_message = "functions must find the agents' URL from the alias (a URL in its own environment would be a cycle)"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_AGENT_BINARY"] == "/var/task/sockerless-agent"
    error_message = "functions must inject the agent that `make lambda` puts in the zip"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource if contains(s.Action, "lambda:GetFunctionUrlConfig")] == [
      ["arn:aws:lambda:eu-west-1:111122223333:function:sltest-functions:agents"],
    ]
    error_message = "functions may look up only its own agents alias's URL"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource if contains(s.Action, "lambda:PutFunctionEventInvokeConfig")] == [
      ["arn:aws:lambda:eu-west-1:111122223333:function:sltest-*"],
    ]
    error_message = "functions turns off Lambda's retries of its workloads' invocations, on its own workload functions only"
  }
  assert {
    condition     = output.agent_report_url == aws_lambda_function_url.agents.function_url
    error_message = "the agents' URL is an output"
  }
}

run "permissions_scoped_to_prefix" {
  command = apply

  # The names the providers give workloads (SOCKERLESS_NAME_PREFIX-...:
  # task definition families, functions and their log groups) are the
  # names the functions role may manage.
  assert {
    condition = (
      aws_lambda_function.functions.environment[0].variables["SOCKERLESS_NAME_PREFIX"] == var.name_prefix &&
      contains(flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource]),
      "arn:aws:lambda:eu-west-1:111122223333:function:${aws_lambda_function.functions.environment[0].variables["SOCKERLESS_NAME_PREFIX"]}-*") &&
      contains(flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource]),
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/${aws_lambda_function.functions.environment[0].variables["SOCKERLESS_NAME_PREFIX"]}-*") &&
      length([for r in flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource]) : r if strcontains(r, ":task-definition/")]) > 0 &&
      alltrue([for r in flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource]) :
        startswith(r, "arn:aws:ecs:eu-west-1:111122223333:task-definition/${aws_lambda_function.functions.environment[0].variables["SOCKERLESS_NAME_PREFIX"]}-")
      if strcontains(r, ":task-definition/")])
    )
    error_message = "SOCKERLESS_NAME_PREFIX must be the prefix the functions role's task definition, function and log statements are scoped to"
  }

  assert {
    # Every statement names this deployment's resources (all carry the
    # prefix), or is "*" only where AWS has no resource-level permission
    # (and then for those actions alone), or is "*" under a condition
    # naming the cluster.
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement :
      alltrue([for r in s.Resource : strcontains(r, "sltest")]) ||
      (s.Resource == ["*"] && (
        length(setsubtract(s.Action, ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitionFamilies", "ecr:GetAuthorizationToken"])) == 0 ||
        try(s.Condition.ArnEquals["ecs:cluster"], "") == aws_ecs_cluster.this.arn
      ))
    ])
    error_message = "a functions permission reaches beyond the deployment's own resources"
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement :
      alltrue([for r in s.Resource : r == "arn:aws:lambda:eu-west-1:111122223333:function:sltest-*"]) ||
      (s.Action == ["lambda:GetFunctionUrlConfig"] && s.Resource == ["arn:aws:lambda:eu-west-1:111122223333:function:sltest-functions:agents"])
      if anytrue([for a in s.Action : startswith(a, "lambda:")]) && s.Effect == "Allow"
    ])
    error_message = "functions may manage only Lambda functions named with the prefix"
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement :
      try(s.Condition.ArnEquals["ecs:cluster"], "") == "arn:aws:ecs:eu-west-1:111122223333:cluster/sltest"
      if length(setintersection(s.Action, ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"])) > 0
    ])
    error_message = "running, stopping and describing tasks must be conditioned on the module's cluster"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource if contains(s.Action, "iam:PassRole")])) == toset([
      "arn:aws:iam::111122223333:role/sltest-ecs-execution", "arn:aws:iam::111122223333:role/sltest-ecs-task", "arn:aws:iam::111122223333:role/sltest-lambda-workload",
    ])
    error_message = "functions may pass only its own workload roles"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s.Resource if anytrue([for a in s.Action : startswith(a, "logs:") && a != "logs:CreateLogStream" && a != "logs:PutLogEvents"])])) == toset([
      "arn:aws:logs:eu-west-1:111122223333:log-group:/sockerless/sltest/workloads", "arn:aws:logs:eu-west-1:111122223333:log-group:/sockerless/sltest/workloads:*",
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/sltest-*", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/sltest-*:*",
    ])
    error_message = "functions may read only the workloads' log groups (the tasks' group, and the Lambda workloads' own)"
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.lambda_workload.policy).Statement : s.Resource if anytrue([for a in s.Action : startswith(a, "logs:")])])) == toset([
      "arn:aws:logs:eu-west-1:111122223333:log-group:/sockerless/sltest/workloads:*",
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/sltest-*", "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/sltest-*:*",
    ])
    error_message = "Lambda workloads may write only their own log groups"
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.functions.policy).Statement : s if s.Effect == "Deny"]).Resource == ["arn:aws:lambda:eu-west-1:111122223333:function:sltest-functions"]
    error_message = "functions must not be able to change itself, though its name matches the prefix"
  }
  assert {
    condition = (
      jsondecode(output.runner_host_policy_json).Statement[0].Action == ["lambda:InvokeFunctionUrl"] &&
      jsondecode(output.runner_host_policy_json).Statement[0].Resource == [aws_lambda_function.functions.arn] &&
      jsondecode(output.runner_host_policy_json).Statement[0].Condition.StringEquals["lambda:FunctionUrlAuthType"] == "AWS_IAM"
    )
    error_message = "runner hosts may call only this Function URL, with IAM auth"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.relay_execution.policy).Statement[3].Resource == ["arn:aws:ecr:eu-west-1:111122223333:repository/sockerless-relay"]
    error_message = "the relay may pull only its own image's repository"
  }
}

run "own_vpc_and_callers" {
  command = apply

  variables {
    vpc_id                    = "vpc-0123456789abcdef0"
    subnet_ids                = ["subnet-a", "subnet-b", "subnet-c"]
    alb_subnet_ids            = ["subnet-pub-a", "subnet-pub-b"]
    assign_public_ip          = false
    allowed_caller_principals = ["arn:aws:iam::444455556666:role/ci-runners", "777788889999"]
    lambda_architecture       = "x86_64"
    relay_autoscaling         = false
  }

  assert {
    condition     = length(aws_vpc.this) == 0 && length(aws_subnet.public) == 0
    error_message = "with vpc_id the module creates no network"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_ECS_SUBNETS"] == "subnet-a,subnet-b,subnet-c" && aws_lambda_function.functions.environment[0].variables["SOCKERLESS_ECS_ASSIGN_PUBLIC_IP"] == "false"
    error_message = "workloads must use the given subnets"
  }
  assert {
    condition     = aws_lb.relay.subnets == toset(["subnet-pub-a", "subnet-pub-b"])
    error_message = "the load balancer must use alb_subnet_ids"
  }
  assert {
    condition     = toset([for p in aws_lambda_permission.invoke_url : p.principal]) == toset(["arn:aws:iam::444455556666:role/ci-runners", "777788889999"])
    error_message = "each allowed principal gets the Function URL permission"
  }
  assert {
    condition     = aws_lambda_function.functions.environment[0].variables["SOCKERLESS_AWS_ACCOUNTS"] == "444455556666,777788889999"
    error_message = "functions must accept exactly the callers' accounts"
  }
  assert {
    condition     = aws_lambda_function.functions.architectures == tolist(["x86_64"])
    error_message = "x86_64 zip"
  }
  assert {
    condition     = length(aws_appautoscaling_policy.relay_connections) == 0
    error_message = "relay_autoscaling=false drops the scaling policy"
  }
}

run "from_s3_and_foreign_relay_image" {
  command = apply

  variables {
    lambda_zip_path  = null
    lambda_s3_bucket = "artifacts"
    lambda_s3_key    = "sockerless/functions-arm64.zip"
    relay_image      = "ghcr.io/example/sockerless-relay:1"
  }

  assert {
    condition     = aws_lambda_function.functions.s3_bucket == "artifacts" && aws_lambda_function.functions.filename == null
    error_message = "the zip comes from S3"
  }
  assert {
    condition     = length(jsondecode(aws_iam_role_policy.relay_execution.policy).Statement) == 2
    error_message = "a relay image outside ECR needs no ECR permissions"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    name_prefix                = "Not_Valid"
    relay_idle_timeout_seconds = 10
    lambda_s3_bucket           = "both-set"
    lambda_s3_key              = "x.zip"
    allowed_caller_principals  = ["*"]
  }

  expect_failures = [
    var.name_prefix,
    var.relay_idle_timeout_seconds,
    var.lambda_s3_bucket,
    var.allowed_caller_principals,
  ]
}
