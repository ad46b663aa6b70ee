# Inputs, alphabetical. Only project_id, bucket_name, developer_emails,
# export_env, function_source_dir and mail_from have no default.

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

variable "check_previous_days" {
  description = "Days before the planned day the nightly run checks for _SUCCESS; 0 turns check-previous off (CHECK_PREVIOUS_DAYS)."
  type        = number
  default     = 1
  validation {
    condition     = var.check_previous_days >= 0 && var.check_previous_days <= 14
    error_message = "check_previous_days must be between 0 and 14."
  }
}

variable "developer_emails" {
  description = "Who is emailed about gaps, recoveries and reruns (DEVELOPER_EMAILS)."
  type        = list(string)
  validation {
    condition     = length(var.developer_emails) > 0 && alltrue([for e in var.developer_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "developer_emails must hold at least one email address."
  }
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

variable "mail_from" {
  description = "Sender of the developer emails, a verified SendGrid sender (MAIL_FROM)."
  type        = string
}

variable "max_auto_reruns" {
  description = "Automatic reruns of one day by check-previous, at most (MAX_AUTO_RERUNS)."
  type        = number
  default     = 2
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
