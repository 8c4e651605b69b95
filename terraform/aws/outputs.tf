output "shim_environment" {
  description = "Exactly the environment the shim (sockerless) on a runner host needs, besides AWS credentials for a principal with runner_host_policy_json."
  value = {
    SOCKERLESS_CONTROL_PLANE_URL = aws_lambda_function_url.functions.function_url
    SOCKERLESS_AUTH              = "aws-iam"
    SOCKERLESS_AWS_REGION        = local.region
  }
}

output "runner_host_policy_json" {
  description = "IAM policy (JSON) for the role or user of runner hosts: calling the control plane's Function URL."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CallSockerlessControlPlane"
        Effect    = "Allow"
        Action    = ["lambda:InvokeFunctionUrl"]
        Resource  = [aws_lambda_function.functions.arn]
        Condition = { StringEquals = { "lambda:FunctionUrlAuthType" = "AWS_IAM" } }
      },
      {
        Sid      = "InvokeSockerlessControlPlane"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [aws_lambda_function.functions.arn]
      },
    ]
  })
}

output "function_name" {
  description = "Name of the functions Lambda."
  value       = aws_lambda_function.functions.function_name
}

output "state_table_name" {
  description = "DynamoDB table holding the control plane's state."
  value       = aws_dynamodb_table.state.name
}

output "relay_url" {
  description = "Where shims and agents reach the relay."
  value       = "wss://${var.relay_domain_name}"
}

output "relay_dns_target" {
  description = "The load balancer's DNS name: point relay_domain_name at it (alias or CNAME) unless route53_zone_id is set."
  value       = aws_lb.relay.dns_name
}

output "cluster_arn" {
  description = "ECS cluster running the relay and the workloads."
  value       = aws_ecs_cluster.this.arn
}

output "image_repository_url" {
  description = "ECR repository for images functions pushes for workloads."
  value       = aws_ecr_repository.images.repository_url
}

output "workload_log_group" {
  description = "CloudWatch log group of the workloads (docker logs reads it)."
  value       = aws_cloudwatch_log_group.workloads.name
}

output "deployment_secret_arn" {
  description = "ARN (not the value) of the deployment secret, for rotation: see secret_version."
  value       = aws_secretsmanager_secret.deployment.arn
}

output "agent_report_url" {
  description = "The Function URL (auth NONE, agents alias) through which workloads' agents report exits with their per-container token; functions finds it itself (SOCKERLESS_AGENT_URL_ALIAS)."
  value       = aws_lambda_function_url.agents.function_url
}
