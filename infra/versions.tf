# Terraform, provider and state settings for the whole deployment.
#
# Provider versions are pinned exactly: the offline schema check in npm test
# (test/repo/terraform-schema.spec.ts) validates this configuration against
# these versions' own schemas. Commit .terraform.lock.hcl after the first
# `terraform init` (see infra/README.md).
terraform {
  required_version = ">= 1.5.0"
  # Partial configuration: the bucket and prefix come from
  # `terraform init -backend-config=bucket=... -backend-config=prefix=...`.
  backend "gcs" {}
  required_providers {
    archive = {
      source  = "hashicorp/archive"
      version = "2.7.1"
    }
    google = {
      source  = "hashicorp/google"
      version = "6.50.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "6.50.0"
    }
    time = {
      source  = "hashicorp/time"
      version = "0.13.1"
    }
  }
}
