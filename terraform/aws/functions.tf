# The control plane: sockerless-functions on the provided.al2023 runtime,
# behind a Function URL that only IAM-signed requests of the allowed
# callers reach, and a second Function URL (auth NONE, on the agents
# alias) through which workloads' agents report exits and health with
# their per-container token. functions serves only those routes to
# requests without a verified IAM caller.

locals {
  # What functions is configured with. The deployment secret is not here:
  # functions reads it from Secrets Manager at start.
  functions_environment = {
    SOCKERLESS_STATE                  = "dynamodb://${aws_dynamodb_table.state.name}?region=${local.region}"
    SOCKERLESS_PROVIDER               = var.workload_provider
    SOCKERLESS_RELAY_URL              = "wss://${var.relay_domain_name}"
    SOCKERLESS_SECRET_ARN             = aws_secretsmanager_secret.deployment.arn
    SOCKERLESS_AUTH                   = "aws-iam"
    SOCKERLESS_AWS_ACCOUNTS           = join(",", local.caller_accounts)
    SOCKERLESS_ECS_CLUSTER            = aws_ecs_cluster.this.arn
    SOCKERLESS_ECS_SUBNETS            = join(",", local.subnet_ids)
    SOCKERLESS_ECS_SECURITY_GROUPS    = aws_security_group.workloads.id
    SOCKERLESS_ECS_EXECUTION_ROLE_ARN = aws_iam_role.ecs_execution.arn
    SOCKERLESS_ECS_TASK_ROLE_ARN      = aws_iam_role.ecs_task.arn
    SOCKERLESS_ECS_ASSIGN_PUBLIC_IP   = tostring(var.assign_public_ip)
    SOCKERLESS_ECS_DIRECT_PORT        = tostring(local.direct_port)
    SOCKERLESS_LOG_GROUP              = aws_cloudwatch_log_group.workloads.name
    SOCKERLESS_ECR_REPOSITORY         = aws_ecr_repository.images.repository_url
    SOCKERLESS_LAMBDA_ROLE_ARN        = aws_iam_role.lambda_workload.arn
    # Workloads' task definitions and functions are named PREFIX-..., the
    # names the functions role's statements are scoped to (iam.tf).
    SOCKERLESS_NAME_PREFIX = local.prefix
    # Agents report exits through the agents alias's Function URL (below),
    # which functions looks up at start: its address cannot be here.
    SOCKERLESS_AGENT_URL_ALIAS = local.agents_alias
    # `make lambda` puts the static linux/amd64 agent next to bootstrap.
    SOCKERLESS_AGENT_BINARY = "/var/task/sockerless-agent"
  }

  agents_alias = "agents"

  # One key per caller principal, stable when the list is reordered.
  caller_keys = { for p in local.callers : substr(sha1(p), 0, 12) => p }
}

resource "aws_lambda_function" "functions" {
  function_name = local.functions_name
  description   = "Sockerless control plane (Docker Engine API handlers)"
  role          = aws_iam_role.functions.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.lambda_architecture]
  memory_size   = var.lambda_memory_mb
  timeout       = var.lambda_timeout_seconds

  filename          = var.lambda_zip_path
  source_code_hash  = var.lambda_zip_path == null ? null : filebase64sha256(var.lambda_zip_path)
  s3_bucket         = var.lambda_s3_bucket
  s3_key            = var.lambda_s3_key
  s3_object_version = var.lambda_s3_object_version

  environment {
    variables = local.functions_environment
  }

  logging_config {
    log_format = "Text" # functions writes JSON lines itself
    log_group  = aws_cloudwatch_log_group.functions.name
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.functions]
}

resource "aws_lambda_function_url" "functions" {
  function_name      = aws_lambda_function.functions.function_name
  authorization_type = "AWS_IAM"
  invoke_mode        = "BUFFERED"
}

resource "aws_lambda_permission" "invoke_url" {
  for_each               = local.caller_keys
  statement_id           = "InvokeFunctionUrl-${each.key}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.functions.function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

# Since October 2025 a Function URL call needs lambda:InvokeFunction as
# well as lambda:InvokeFunctionUrl. (Provider 6.x can narrow this one to
# calls through the URL with invoked_via_function_url; 5.x cannot.)
resource "aws_lambda_permission" "invoke" {
  for_each      = local.caller_keys
  statement_id  = "InvokeFunction-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.functions.function_name
  principal     = each.value
}

# --- the agents' route ------------------------------------------------------

# Agents cannot sign with SigV4 as the AWS_IAM URL wants (they hold a
# per-container token, not the caller's identity), so they report through
# this alias's URL, whose auth is NONE: functions checks their token
# itself, and answers 401 to any other request that has no verified IAM
# caller, so the URL reaches nothing but /_sockerless/agent/*.
resource "aws_lambda_alias" "agents" {
  name             = local.agents_alias
  description      = "Workloads' agents report exits and health here (token-authenticated by functions)"
  function_name    = aws_lambda_function.functions.function_name
  function_version = "$LATEST"
}

resource "aws_lambda_function_url" "agents" {
  function_name      = aws_lambda_function.functions.function_name
  qualifier          = aws_lambda_alias.agents.name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

resource "aws_lambda_permission" "agents_url" {
  statement_id           = "AgentsFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.functions.function_name
  qualifier              = aws_lambda_alias.agents.name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# A Function URL call also needs lambda:InvokeFunction (since October
# 2025). Provider 5.x cannot narrow it to calls through the URL
# (invoked_via_function_url is 6.x), so a direct invoke of the agents
# alias is possible too; it reaches the same handler, with the same
# token checks.
resource "aws_lambda_permission" "agents_invoke" {
  statement_id  = "AgentsInvokeFunction"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.functions.function_name
  qualifier     = aws_lambda_alias.agents.name
  principal     = "*"
}
