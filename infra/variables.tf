# Inputs, alphabetical. Only project_id, bucket_name, export_env and
# function_source_dir have no default.

variable "batch_size" {
  description = "Conversations per batch message (BATCH_SIZE)."
  type        = number
  default     = 100
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 1000
    error_message = "batch_size must be between 1 and 1000."
  }
}

variable "bucket_name" {
  description = "Bucket the recordings land in (created here)."
  type        = string
}

variable "export_env" {
  description = "Top-level folder in the bucket, e.g. brave (EXPORT_ENV)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.export_env))
    error_message = "export_env must be lower-case letters, digits, '-' or '_'."
  }
}

variable "function_source_dir" {
  description = "Path of the repository root to package as the functions' source."
  type        = string
}

variable "genesys_environment" {
  description = "Genesys Cloud region host, e.g. mypurecloud.ie (GENESYS_ENVIRONMENT)."
  type        = string
  default     = "mypurecloud.com"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a batch message before it goes to the dead-letter topic (5..100)."
  type        = number
  default     = 10
}

variable "prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "grm"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}$", var.prefix))
    error_message = "prefix must be 1-15 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "project_id" {
  description = "Project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler job and the bucket."
  type        = string
  default     = "europe-west1"
}

variable "schedule" {
  description = "Cron schedule of the nightly run (Cloud Scheduler syntax)."
  type        = string
  default     = "0 0 * * *"
}

variable "time_zone" {
  description = "IANA zone that defines a day (TIME_ZONE) and the schedule's zone."
  type        = string
  default     = "Etc/UTC"
}

variable "window_lag_days" {
  description = "A run exports the day this many days before its own (WINDOW_LAG_DAYS)."
  type        = number
  default     = 3
}
