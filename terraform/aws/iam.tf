# Roles. Every permission names this deployment's own resources: its
# table, secret, log groups, repository and cluster, and the Lambda
# functions and task definitions whose names start with name_prefix.

locals {
  arn_prefix = "arn:${local.partition}"

  # Wildcards for what functions creates at run time.
  workload_functions_arn = "${local.arn_prefix}:lambda:${local.region}:${local.account_id}:function:${local.prefix}-*"
  # Lambda workloads write to /aws/lambda/FUNCTION, where the provider
  # reads their output and how their invocation ended.
  workload_function_logs_arn = "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.prefix}-*"
  task_definitions_arn       = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:task-definition/${local.prefix}-*:*"
  tasks_arn                  = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:task/${local.cluster_name}/*"

  # A relay image in ECR is pulled with the relay's execution role.
  relay_ecr = regex("^(?:([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+))?", var.relay_image)
  relay_ecr_repository_arn = local.relay_ecr[0] == null ? null : (
    "${local.arn_prefix}:ecr:${local.relay_ecr[1]}:${local.relay_ecr[0]}:repository/${local.relay_ecr[2]}"
  )

  ecr_pull_actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

  functions_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StateTable"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"]
        Resource = [aws_dynamodb_table.state.arn, "${aws_dynamodb_table.state.arn}/index/*"]
      },
      {
        Sid      = "DeploymentSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [aws_secretsmanager_secret.deployment.arn]
      },
      {
        Sid      = "OwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.functions.arn}:*"]
      },
      {
        Sid      = "ReadWorkloadLogs"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"]
        Resource = [aws_cloudwatch_log_group.workloads.arn, "${aws_cloudwatch_log_group.workloads.arn}:*", local.workload_function_logs_arn, "${local.workload_function_logs_arn}:*"]
      },
      {
        Sid      = "RunTasksInOwnCluster"
        Effect   = "Allow"
        Action   = ["ecs:RunTask"]
        Resource = [local.task_definitions_arn]
        Condition = {
          ArnEquals = { "ecs:cluster" = aws_ecs_cluster.this.arn }
        }
      },
      {
        Sid      = "OwnTasks"
        Effect   = "Allow"
        Action   = ["ecs:StopTask", "ecs:DescribeTasks"]
        Resource = [local.tasks_arn]
        Condition = {
          ArnEquals = { "ecs:cluster" = aws_ecs_cluster.this.arn }
        }
      },
      {
        Sid      = "ListOwnTasks"
        Effect   = "Allow"
        Action   = ["ecs:ListTasks"]
        Resource = ["*"]
        Condition = {
          ArnEquals = { "ecs:cluster" = aws_ecs_cluster.this.arn }
        }
      },
      {
        # RegisterTaskDefinition has no resource-level permissions; the
        # definitions functions registers are named name_prefix-*, and
        # only those can be run (above) or deregistered.
        Sid      = "RegisterTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitionFamilies"]
        Resource = ["*"]
      },
      {
        Sid      = "OwnTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions"]
        Resource = [local.task_definitions_arn]
      },
      {
        Sid      = "TagOnCreate"
        Effect   = "Allow"
        Action   = ["ecs:TagResource"]
        Resource = [local.task_definitions_arn, local.tasks_arn]
        Condition = {
          StringEquals = { "ecs:CreateAction" = ["RunTask", "RegisterTaskDefinition"] }
        }
      },
      {
        Sid      = "PassTaskRoles"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [aws_iam_role.ecs_execution.arn, aws_iam_role.ecs_task.arn]
        Condition = {
          StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" }
        }
      },
      {
        Sid      = "PassLambdaWorkloadRole"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [aws_iam_role.lambda_workload.arn]
        Condition = {
          StringEquals = { "iam:PassedToService" = "lambda.amazonaws.com" }
        }
      },
      {
        Sid      = "OwnLambdaWorkloads"
        Effect   = "Allow"
        Action   = ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionEventInvokeConfig", "lambda:TagResource", "lambda:ListTags"]
        Resource = [local.workload_functions_arn]
      },
      {
        # At start functions looks up the agents' Function URL
        # (SOCKERLESS_AGENT_URL_ALIAS).
        Sid      = "OwnAgentsUrl"
        Effect   = "Allow"
        Action   = ["lambda:GetFunctionUrlConfig"]
        Resource = ["${local.arn_prefix}:lambda:${local.region}:${local.account_id}:function:${local.functions_name}:${local.agents_alias}"]
      },
      {
        # The functions Lambda's own name matches name_prefix-* too: it
        # must not change or delete itself.
        Sid      = "NotItself"
        Effect   = "Deny"
        Action   = ["lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:InvokeFunction", "lambda:TagResource"]
        Resource = ["${local.arn_prefix}:lambda:${local.region}:${local.account_id}:function:${local.functions_name}"]
      },
      {
        # GetAuthorizationToken has no resource-level permissions; the
        # token only works on repositories the role may use (below).
        Sid      = "RegistryLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid      = "OwnImageRepository"
        Effect   = "Allow"
        Action   = concat(local.ecr_pull_actions, ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:DescribeImages", "ecr:BatchDeleteImage"])
        Resource = [aws_ecr_repository.images.arn]
      },
    ]
  }
}

locals {
  lambda_assume = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
  ecs_tasks_assume = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

# --- functions ------------------------------------------------------------

resource "aws_iam_role" "functions" {
  name               = "${local.prefix}-functions"
  assume_role_policy = local.lambda_assume
  tags               = local.tags
}

resource "aws_iam_role_policy" "functions" {
  name   = "${local.prefix}-functions"
  role   = aws_iam_role.functions.id
  policy = jsonencode(local.functions_policy)
}

# --- workloads ------------------------------------------------------------

# ECS pulls workload images and writes their logs with this role.
resource "aws_iam_role" "ecs_execution" {
  name               = "${local.prefix}-ecs-execution"
  assume_role_policy = local.ecs_tasks_assume
  tags               = local.tags
}

resource "aws_iam_role_policy" "ecs_execution" {
  name = "${local.prefix}-ecs-execution"
  role = aws_iam_role.ecs_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "RegistryLogin", Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = ["*"] },
      { Sid = "PullOwnImages", Effect = "Allow", Action = local.ecr_pull_actions, Resource = [aws_ecr_repository.images.arn] },
      { Sid = "WorkloadLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${aws_cloudwatch_log_group.workloads.arn}:*"] },
    ]
  })
}

# The identity workload containers run as: no permissions.
resource "aws_iam_role" "ecs_task" {
  name               = "${local.prefix}-ecs-task"
  assume_role_policy = local.ecs_tasks_assume
  tags               = local.tags
}

# Lambda workloads run as this role: they may only write their logs.
resource "aws_iam_role" "lambda_workload" {
  name               = "${local.prefix}-lambda-workload"
  assume_role_policy = local.lambda_assume
  tags               = local.tags
}

resource "aws_iam_role_policy" "lambda_workload" {
  name = "${local.prefix}-lambda-workload"
  role = aws_iam_role.lambda_workload.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "WorkloadLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${aws_cloudwatch_log_group.workloads.arn}:*"] },
      { Sid = "OwnFunctionLogs", Effect = "Allow", Action = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], Resource = [local.workload_function_logs_arn, "${local.workload_function_logs_arn}:*"] },
      { Sid = "PullOwnImages", Effect = "Allow", Action = local.ecr_pull_actions, Resource = [aws_ecr_repository.images.arn] },
    ]
  })
}

# --- relay ----------------------------------------------------------------

resource "aws_iam_role" "relay_execution" {
  name               = "${local.prefix}-relay-execution"
  assume_role_policy = local.ecs_tasks_assume
  tags               = local.tags
}

resource "aws_iam_role_policy" "relay_execution" {
  name = "${local.prefix}-relay-execution"
  role = aws_iam_role.relay_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        { Sid = "RelayLogs", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["${aws_cloudwatch_log_group.relay.arn}:*"] },
        { Sid = "DeploymentSecret", Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [aws_secretsmanager_secret.deployment.arn] },
      ],
      local.relay_ecr_repository_arn == null ? [] : [
        { Sid = "RegistryLogin", Effect = "Allow", Action = ["ecr:GetAuthorizationToken"], Resource = ["*"] },
        { Sid = "PullRelayImage", Effect = "Allow", Action = local.ecr_pull_actions, Resource = [local.relay_ecr_repository_arn] },
      ],
    )
  })
}
