# A complete deployment in its own VPC, from the functions zip `make
# lambda` builds. See docs/deploy-aws.md for the steps around it.

terraform {
  required_version = ">= 1.11.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "relay_domain_name" {
  description = "DNS name of the relay, in route53_zone_id."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of relay_domain_name (for the certificate's validation and the relay's record)."
  type        = string
}

variable "relay_image" {
  description = "sockerless-relay image URI, for instance in ECR."
  type        = string
}

variable "runner_role_arns" {
  description = "IAM roles of the runner hosts that may call the control plane."
  type        = list(string)
  default     = []
}

# The relay's certificate, validated through DNS in the same zone.
resource "aws_acm_certificate" "relay" {
  domain_name       = var.relay_domain_name
  validation_method = "DNS"
}

resource "aws_route53_record" "relay_validation" {
  for_each = { for o in aws_acm_certificate.relay.domain_validation_options : o.domain_name => o }
  zone_id  = var.route53_zone_id
  name     = each.value.resource_record_name
  type     = each.value.resource_record_type
  records  = [each.value.resource_record_value]
  ttl      = 300
}

resource "aws_acm_certificate_validation" "relay" {
  certificate_arn         = aws_acm_certificate.relay.arn
  validation_record_fqdns = [for r in aws_route53_record.relay_validation : r.fqdn]
}

module "sockerless" {
  source = "../.."

  name_prefix               = "sockerless"
  lambda_zip_path           = "${path.root}/../../../../bin/lambda/sockerless-functions-arm64.zip"
  lambda_architecture       = "arm64"
  relay_image               = var.relay_image
  relay_domain_name         = var.relay_domain_name
  certificate_arn           = aws_acm_certificate_validation.relay.certificate_arn
  route53_zone_id           = var.route53_zone_id
  allowed_caller_principals = var.runner_role_arns
  tags                      = { team = "ci" }
}

output "shim_environment" {
  description = "Set these on every runner host (with AWS credentials of a runner role)."
  value       = module.sockerless.shim_environment
}

output "runner_host_policy_json" {
  description = "Attach to the runner hosts' roles."
  value       = module.sockerless.runner_host_policy_json
}
