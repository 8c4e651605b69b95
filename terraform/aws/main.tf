# Sockerless control plane for one AWS account: the sockerless-functions
# Lambda behind an IAM-authenticated Function URL, its DynamoDB state
# table, the relay as an ECS Fargate service behind a TLS load balancer,
# and what workloads run with (cluster, subnets, security group, roles,
# log group, image repository). Runner hosts need only the outputs.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  prefix     = var.name_prefix
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  tags       = merge({ "sockerless:deployment" = var.name_prefix }, var.tags)

  # Names, in one place: the functions role's permissions are scoped to them.
  table_name          = "${local.prefix}-state"
  cluster_name        = local.prefix
  functions_name      = "${local.prefix}-functions"
  workload_log_group  = "/sockerless/${local.prefix}/workloads"
  relay_log_group     = "/sockerless/${local.prefix}/relay"
  relay_namespace     = "${local.prefix}.sockerless.internal"
  functions_log_group = "/aws/lambda/${local.prefix}-functions"
  repository_name     = "${local.prefix}-images"
  secret_name         = "${local.prefix}/deployment-secret"
  relay_port          = 8080
  # Where each task's agent takes direct connections from its network
  # peers' agents (SOCKERLESS_ECS_DIRECT_PORT, package relay/direct).
  direct_port = 7012

  create_vpc     = var.vpc_id == null
  vpc_id         = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  subnet_ids     = local.create_vpc ? aws_subnet.public[*].id : var.subnet_ids
  alb_subnet_ids = length(var.alb_subnet_ids) > 0 ? var.alb_subnet_ids : local.subnet_ids

  # Callers of the Function URL and the accounts functions accepts them
  # from (SOCKERLESS_AWS_ACCOUNTS): the account id is the first 12 digits
  # of either form.
  callers         = length(var.allowed_caller_principals) > 0 ? var.allowed_caller_principals : [local.account_id]
  caller_accounts = distinct([for p in local.callers : regex("[0-9]{12}", p)])
}

# --- network (only without vpc_id) ----------------------------------------

data "aws_availability_zones" "available" {
  count = local.create_vpc ? 1 : 0
  state = "available"
}

resource "aws_vpc" "this" {
  count                = local.create_vpc ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = local.prefix })
}

resource "aws_internet_gateway" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(local.tags, { Name = local.prefix })
}

resource "aws_subnet" "public" {
  count                   = local.create_vpc ? 2 : 0
  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = data.aws_availability_zones.available[0].names[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = false
  tags                    = merge(local.tags, { Name = "${local.prefix}-public-${count.index}" })
}

resource "aws_route_table" "public" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(local.tags, { Name = "${local.prefix}-public" })
}

resource "aws_route" "internet" {
  count                  = local.create_vpc ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count          = local.create_vpc ? 2 : 0
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# Workloads: egress, and from each other on the agents' direct port only.
# Nothing else dials into a container; its agent dials the relay.
resource "aws_security_group" "workloads" {
  name        = "${local.prefix}-workloads"
  description = "Sockerless workloads: egress; peers' agents on the direct port"
  vpc_id      = local.vpc_id
  tags        = local.tags

  egress {
    description = "agents dial the relay; images and packages from the internet"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Two tasks on one user network connect through their agents directly
# (authorised per connection by functions) instead of through the relay.
resource "aws_security_group_rule" "workloads_direct" {
  type                     = "ingress"
  description              = "agents of network peers, direct connections"
  security_group_id        = aws_security_group.workloads.id
  source_security_group_id = aws_security_group.workloads.id
  from_port                = local.direct_port
  to_port                  = local.direct_port
  protocol                 = "tcp"
}

# --- state ----------------------------------------------------------------

# Exactly the table statestore/dynamodb creates for itself (see
# docs/statestores.md): pk/sk strings, the sparse "group" index on gpk/sk
# projecting everything, TTL on "ttl".
resource "aws_dynamodb_table" "state" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.state_deletion_protection
  tags                        = local.tags

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "gpk"
    type = "S"
  }

  global_secondary_index {
    name            = "group"
    hash_key        = "gpk"
    range_key       = "sk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.state_point_in_time_recovery
  }
}

# --- the deployment secret ------------------------------------------------

# Functions and the relay sign and check stream tickets and agent tokens
# with it. Functions reads it at start (SOCKERLESS_SECRET_ARN); ECS
# injects it into the relay's container. It is in no environment variable
# of the deployment, no output, and neither the plan nor the state: it is
# made at apply time (two of Terraform's uuid() values, random UUIDs from
# Go's crypto/rand: at least 244 random bits) and passed to a write-only
# argument, written again only when secret_version changes. (Not the provider's ephemeral
# aws_secretsmanager_random_password: Terraform 1.11's mocked providers
# cannot open ephemeral resources, so the module's tests could not run.)
resource "aws_secretsmanager_secret" "deployment" {
  name                    = local.secret_name
  description             = "Sockerless deployment secret shared by functions and the relay"
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "deployment" {
  secret_id                = aws_secretsmanager_secret.deployment.id
  secret_string_wo         = join("", [replace(uuid(), "-", ""), replace(uuid(), "-", "")])
  secret_string_wo_version = var.secret_version
}

# --- logs, images, cluster ------------------------------------------------

resource "aws_cloudwatch_log_group" "workloads" {
  name              = local.workload_log_group
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "relay" {
  name              = local.relay_log_group
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "functions" {
  name              = local.functions_log_group
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

# Images functions pushes for workloads (docker load, docker build,
# docker commit results) so that Fargate and Lambda can pull them.
resource "aws_ecr_repository" "images" {
  name                 = local.repository_name
  image_tag_mutability = "MUTABLE"
  force_delete         = var.force_destroy
  tags                 = local.tags
}

resource "aws_ecr_lifecycle_policy" "images" {
  repository = aws_ecr_repository.images.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "drop untagged layers' manifests after a day"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = 1
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "this" {
  name = local.cluster_name
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}
