variable "name_prefix" {
  description = "Prefix of every name this module creates. The functions role may only create, change and delete Lambda functions and ECS task definitions whose names start with it."
  type        = string
  default     = "sockerless"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix: 3 to 20 lowercase letters, digits and hyphens, starting with a letter (load balancer and target group names are limited to 32 characters)."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# --- network ---------------------------------------------------------------

variable "vpc_id" {
  description = "VPC for the relay and the workloads. Null creates a small VPC (two public subnets, an internet gateway, no NAT gateway)."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets of vpc_id for the relay's tasks and the workloads' tasks. Required with vpc_id; ignored without it."
  type        = list(string)
  default     = []

  validation {
    condition     = var.vpc_id == null || length(var.subnet_ids) > 0
    error_message = "subnet_ids: required when vpc_id is set."
  }
}

variable "alb_subnet_ids" {
  description = "Subnets (at least two availability zones) for the relay's load balancer. Default subnet_ids."
  type        = list(string)
  default     = []
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC the module creates when vpc_id is null."
  type        = string
  default     = "10.42.0.0/16"
}

variable "assign_public_ip" {
  description = "Give the relay's and the workloads' tasks public IPs. Needed in public subnets without a NAT gateway (the module's own VPC), so tasks can pull images and reach the relay."
  type        = bool
  default     = true
}

# --- functions (the control plane) ----------------------------------------

variable "lambda_zip_path" {
  description = "Path of the sockerless-functions zip built by `make lambda` (bin/lambda/sockerless-functions-ARCH.zip). Set this or lambda_s3_bucket and lambda_s3_key."
  type        = string
  default     = null
}

variable "lambda_s3_bucket" {
  description = "S3 bucket holding the sockerless-functions zip (instead of lambda_zip_path)."
  type        = string
  default     = null

  validation {
    condition     = (var.lambda_zip_path == null) != (var.lambda_s3_bucket == null)
    error_message = "Set exactly one of lambda_zip_path or lambda_s3_bucket (with lambda_s3_key)."
  }
}

variable "lambda_s3_key" {
  description = "S3 key of the sockerless-functions zip in lambda_s3_bucket."
  type        = string
  default     = null

  validation {
    condition     = (var.lambda_s3_bucket == null) == (var.lambda_s3_key == null)
    error_message = "lambda_s3_key goes with lambda_s3_bucket."
  }
}

variable "lambda_s3_object_version" {
  description = "Version of the S3 object (versioned buckets), so that a new upload under the same key is deployed."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Architecture the zip was built for: arm64 or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture: arm64 or x86_64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of the functions Lambda (CPU scales with it)."
  type        = number
  default     = 512
}

variable "lambda_timeout_seconds" {
  description = "Timeout of one functions invocation. Long waits are polls of at most SOCKERLESS_POLL_WINDOW (20 s); pulls and builds are single requests and need longer."
  type        = number
  default     = 300

  validation {
    condition     = var.lambda_timeout_seconds >= 30 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds: 30 to 900 (above the 20 s poll window, within Lambda's limit)."
  }
}

variable "workload_provider" {
  description = "SOCKERLESS_PROVIDER of the functions Lambda: ecs runs containers as Fargate tasks in the module's cluster."
  type        = string
  default     = "ecs"
}

variable "allowed_caller_principals" {
  description = "Who may call the control plane's Function URL: account ids or IAM role/user ARNs (each still needs the runner_host_policy_json permissions). Empty allows principals of this account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.allowed_caller_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+))$", p))])
    error_message = "allowed_caller_principals: 12-digit account ids or arn:aws:iam::ACCOUNT:root|role/NAME|user/NAME."
  }
}

# --- relay -----------------------------------------------------------------

variable "relay_image" {
  description = "Image URI of sockerless-relay (for instance in a private ECR repository)."
  type        = string
}

variable "relay_domain_name" {
  description = "DNS name of the relay, covered by certificate_arn. Shims and agents dial wss://relay_domain_name; point it at the load balancer (output relay_dns_target) or set route53_zone_id."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for relay_domain_name, in this region. The load balancer terminates TLS with it."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone in which to create relay_domain_name as an alias of the load balancer. Null: create the record yourself."
  type        = string
  default     = null
}

variable "relay_allowed_cidrs" {
  description = "Who may reach the relay on 443: shims on runner hosts and agents in workloads (which have public IPs in the module's VPC)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "relay_cpu" {
  description = "CPU units of one relay task."
  type        = number
  default     = 256
}

variable "relay_memory" {
  description = "Memory (MiB) of one relay task."
  type        = number
  default     = 512
}

variable "relay_cpu_architecture" {
  description = "CPU architecture of the relay image: ARM64 or X86_64."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.relay_cpu_architecture)
    error_message = "relay_cpu_architecture: ARM64 or X86_64."
  }
}

variable "relay_min_count" {
  description = "Fewest relay tasks."
  type        = number
  default     = 1
}

variable "relay_max_count" {
  description = "Most relay tasks the connection-count scaling may run. Any number serve one deployment: a task hands each stream, notice and blob to the task holding its agent, found through ECS service discovery."
  type        = number
  default     = 10

  validation {
    condition     = var.relay_max_count >= var.relay_min_count && var.relay_min_count >= 1
    error_message = "relay_max_count must be at least relay_min_count, which must be at least 1."
  }
}

variable "relay_autoscaling" {
  description = "Scale the relay service by connection count (Application Auto Scaling). Off only where that service is unavailable, as in the moto-based test."
  type        = bool
  default     = true
}

variable "relay_connections_per_task" {
  description = "Target of the relay's scaling: open connections (agents' control connections plus both ends of each stream) per relay task."
  type        = number
  default     = 2000
}

variable "relay_ping_interval_seconds" {
  description = "How often the relay pings agents' control connections (SOCKERLESS_PING_INTERVAL)."
  type        = number
  default     = 15
}

variable "relay_idle_timeout_seconds" {
  description = "Load balancer idle timeout. Above the ping interval, so agents' control connections stay up; it also cuts exec/attach streams silent for this long."
  type        = number
  default     = 3600

  validation {
    condition     = var.relay_idle_timeout_seconds > var.relay_ping_interval_seconds && var.relay_idle_timeout_seconds <= 4000
    error_message = "relay_idle_timeout_seconds must be above relay_ping_interval_seconds and at most 4000 (the load balancer's limit)."
  }
}

# --- lifetimes -------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the functions', relay's and workloads' logs."
  type        = number
  default     = 30
}

variable "state_deletion_protection" {
  description = "Protect the state table from deletion (turn off before destroying the deployment)."
  type        = bool
  default     = true
}

variable "state_point_in_time_recovery" {
  description = "Point-in-time recovery of the state table."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a destroyed deployment secret can be restored (0 deletes at once)."
  type        = number
  default     = 7
}

variable "secret_version" {
  description = "Bump to generate and store a new deployment secret (then redeploy functions and relay)."
  type        = number
  default     = 1
}

variable "force_destroy" {
  description = "Let destroy delete the image repository with images in it."
  type        = bool
  default     = false
}
