terraform {
  # 1.11: write-only arguments and ephemeral resources keep the deployment
  # secret out of the plan and the state.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
