# Inputs, alphabetical. Only bucket_name, developer_emails, export_env,
# mail_from and project_id have no default. A variable named after a function
# setting (archived_policy for ARCHIVED_POLICY, ...) has that setting's
# default and range from functions/config.ts, so a value the functions would
# refuse at cold start is refused at plan time instead.

variable "alert_emails" {
  description = "Addresses that get the Cloud Monitoring alerts (an email notification channel is created for them). Combine with or replace by notification_channels."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s<>\",;]+@[^@\\s<>\",;]+\\.[^@\\s<>\",;]+$", e))])
    error_message = "alert_emails must hold email addresses."
  }
}

variable "archive_reader_members" {
  description = "Who may read the recordings themselves (call audio, transcripts, emails, screen recordings) in the bucket; kept apart from operator_members so that access to the archive's content is a separate, audited right."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.archive_reader_members : can(regex("^((user|group|serviceAccount):[^@\\s]+@[^@\\s]+|principal(Set)?://\\S+)$", m))])
    error_message = "archive_reader_members must hold IAM members like group:archive-auditors@example.com."
  }
}

variable "archived_policy" {
  description = "What an ARCHIVED recording counts as: restore (the pipeline restores it in Genesys Cloud, exports it and decides its day again; the OAuth clients need the recording:*:restore permissions), fail (a gap to fix) or skip (ARCHIVED_POLICY)."
  type        = string
  default     = "restore"
  validation {
    condition     = contains(["restore", "fail", "skip"], var.archived_policy)
    error_message = "archived_policy must be one of restore, fail, skip."
  }
}

variable "analytics_horizon_days" {
  description = "How far back, in days, the analytics jobs API is relied on to enumerate a day's conversations; older days, and days past the organisation's maximum interaction data retention, are refused and reported, never planned empty (ANALYTICS_HORIZON_DAYS)."
  type        = number
  default     = 1826
  validation {
    condition     = var.analytics_horizon_days >= 90 && var.analytics_horizon_days <= 36600 && floor(var.analytics_horizon_days) == var.analytics_horizon_days
    error_message = "analytics_horizon_days must be an integer from 90 to 36600."
  }
}

variable "restore_outstanding" {
  description = "Most archived recordings being restored at once, asked for and not yet exported (RESTORE_OUTSTANDING)."
  type        = number
  default     = 500
  validation {
    condition     = var.restore_outstanding >= 1 && var.restore_outstanding <= 2000 && floor(var.restore_outstanding) == var.restore_outstanding
    error_message = "restore_outstanding must be an integer from 1 to 2000."
  }
}

variable "restore_hold_hours" {
  description = "How long a restored recording is asked to stay restored, from the request: the archive date a restore sets (RESTORE_HOLD_HOURS)."
  type        = number
  default     = 72
  validation {
    condition     = var.restore_hold_hours >= 1 && var.restore_hold_hours <= 720 && floor(var.restore_hold_hours) == var.restore_hold_hours
    error_message = "restore_hold_hours must be an integer from 1 to 720."
  }
}

variable "restore_poll_seconds" {
  description = "How soon a requested restore is read again from Genesys Cloud, later as it goes on (RESTORE_POLL_SECONDS)."
  type        = number
  default     = 600
  validation {
    condition     = var.restore_poll_seconds >= 1 && var.restore_poll_seconds <= 86400 && floor(var.restore_poll_seconds) == var.restore_poll_seconds
    error_message = "restore_poll_seconds must be an integer from 1 to 86400."
  }
}

variable "restore_calls_per_tick" {
  description = "Most Genesys calls the planner's every-minute tick makes for restores (RESTORE_CALLS_PER_TICK)."
  type        = number
  default     = 60
  validation {
    condition     = var.restore_calls_per_tick >= 2 && var.restore_calls_per_tick <= 1000 && floor(var.restore_calls_per_tick) == var.restore_calls_per_tick
    error_message = "restore_calls_per_tick must be an integer from 2 to 1000."
  }
}

variable "batch_deadline_ms" {
  description = "How long one delivery of a batch may export, in ms, before it stops and reports what it stored; must leave the worker a minute of its 600 s timeout (BATCH_DEADLINE_MS)."
  type        = number
  default     = 480000
  validation {
    condition     = floor(var.batch_deadline_ms) == var.batch_deadline_ms && var.batch_deadline_ms >= 1000 && var.batch_deadline_ms <= 3600000
    error_message = "batch_deadline_ms must be an integer from 1000 to 3600000."
  }
}

variable "batch_poll_deadline_ms" {
  description = "How long the worker polls a Genesys batch download request, in ms; must be below batch_deadline_ms (BATCH_POLL_DEADLINE_MS)."
  type        = number
  default     = 300000
  validation {
    condition     = floor(var.batch_poll_deadline_ms) == var.batch_poll_deadline_ms && var.batch_poll_deadline_ms >= 1000 && var.batch_poll_deadline_ms <= 3600000
    error_message = "batch_poll_deadline_ms must be an integer from 1000 to 3600000."
  }
}

variable "batch_size" {
  description = "Conversations per batch message (BATCH_SIZE)."
  type        = number
  default     = 100
  validation {
    condition     = floor(var.batch_size) == var.batch_size && var.batch_size >= 1 && var.batch_size <= 1000
    error_message = "batch_size must be an integer from 1 to 1000."
  }
}

variable "bigquery_dataset" {
  description = "BigQuery dataset to create for SQL over the archive: a table over the recordings index, one row per recording of each decided day (docs/sql.md). Empty means none (and the BigQuery APIs stay off)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9_]{0,1024}$", var.bigquery_dataset))
    error_message = "bigquery_dataset must be letters, digits or '_' (at most 1024), or empty."
  }
}

variable "bigquery_reader_members" {
  description = "Who may query the recordings index table (IAM members): read access to bigquery_dataset and BigQuery jobs in the project, never to the bucket (the table reads it through its own connection)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.bigquery_reader_members : can(regex("^((user|group|serviceAccount):[^@\\s]+@[^@\\s]+|principal(Set)?://\\S+)$", m))])
    error_message = "bigquery_reader_members must hold IAM members like group:analysts@example.com."
  }
}

variable "bucket_name" {
  description = "Bucket the recordings land in (created here; globally unique)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.bucket_name)) && !startswith(var.bucket_name, "goog")
    error_message = "bucket_name must be 3-63 lower-case letters, digits, '-', '_' or '.', and not start with goog."
  }
}

variable "check_previous_days" {
  description = "Days before the planned day the nightly run checks for _SUCCESS; 0 turns check-previous off (CHECK_PREVIOUS_DAYS)."
  type        = number
  default     = 1
  validation {
    condition     = floor(var.check_previous_days) == var.check_previous_days && var.check_previous_days >= 0 && var.check_previous_days <= 14
    error_message = "check_previous_days must be an integer from 0 to 14."
  }
}

variable "checker_concurrency" {
  description = "Events one checker instance handles at once. The checker is fed every object-finalize event of the bucket and returns at once for all but plans and reports, so it shares instances (with 1 vCPU)."
  type        = number
  default     = 40
  validation {
    condition     = floor(var.checker_concurrency) == var.checker_concurrency && var.checker_concurrency >= 1 && var.checker_concurrency <= 1000
    error_message = "checker_concurrency must be an integer from 1 to 1000."
  }
}

variable "composer_service_account" {
  description = "Email of the service account of a Cloud Composer environment that triggers the nightly run instead of Cloud Scheduler, with the DAG in infra/composer/ (docs/composer.md): it may invoke the planner, and the scheduler job is paused so that each day is planned once. Empty (default): Cloud Scheduler triggers it."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^([a-z0-9-]+@[a-z0-9.-]+\\.gserviceaccount\\.com)?$", var.composer_service_account))
    error_message = "composer_service_account must be a service account email such as composer-env@my-project.iam.gserviceaccount.com, or empty."
  }
}

variable "dead_letter_retention_days" {
  description = "Days the dead-letter subscription keeps a batch message that kept failing (Pub/Sub allows 1 to 31)."
  type        = number
  default     = 31
  validation {
    condition     = floor(var.dead_letter_retention_days) == var.dead_letter_retention_days && var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 31
    error_message = "dead_letter_retention_days must be an integer from 1 to 31."
  }
}

variable "developer_emails" {
  description = "Who is emailed about gaps, recoveries and reruns (DEVELOPER_EMAILS)."
  type        = list(string)
  validation {
    condition     = length(var.developer_emails) > 0 && alltrue([for e in var.developer_emails : can(regex("^[^@\\s<>\",;]+@[^@\\s<>\",;]+\\.[^@\\s<>\",;]+$", e))])
    error_message = "developer_emails must hold at least one email address, and only email addresses."
  }
}

variable "discovery" {
  description = "How conversations are found: jobs (analytics jobs), query (synchronous query) or auto (jobs, falling back to the query) (DISCOVERY)."
  type        = string
  default     = "auto"
  validation {
    condition     = contains(["jobs", "query", "auto"], var.discovery)
    error_message = "discovery must be one of jobs, query, auto."
  }
}

variable "metadata" {
  description = "Recording metadata: full (a recordingmetadata call per conversation) or lean (analytics details and batch results, with recordingmetadata only where they cannot prove the whole truth: about 6x fewer Genesys calls; only on OAuth clients proven to hold recording:recording:viewSensitiveData, the others run in full mode; see docs/throughput.md) (METADATA)."
  type        = string
  default     = "full"
  validation {
    condition     = contains(["full", "lean"], var.metadata)
    error_message = "metadata must be one of full, lean."
  }
}

variable "migration_share" {
  description = "Percent of each worker instance's budget on every OAuth client that a history migration's batches may use; the nightly run always has the whole budget (docs/migration.md) (MIGRATION_SHARE)."
  type        = number
  default     = 50
  validation {
    condition     = var.migration_share >= 1 && var.migration_share <= 100 && floor(var.migration_share) == var.migration_share
    error_message = "migration_share must be an integer from 1 to 100."
  }
}

variable "migration_outstanding_batches" {
  description = "Most batches of a history migration published and not yet reported at once: the most a nightly day can find ahead of it in the queue (docs/migration.md) (MIGRATION_OUTSTANDING_BATCHES)."
  type        = number
  default     = 2
  validation {
    condition     = var.migration_outstanding_batches >= 1 && var.migration_outstanding_batches <= 1000 && floor(var.migration_outstanding_batches) == var.migration_outstanding_batches
    error_message = "migration_outstanding_batches must be an integer from 1 to 1000."
  }
}

variable "migration_quiet_minutes" {
  description = "Minutes before each scheduled nightly run (schedule) in which a history migration publishes and plans nothing, until the night's day is planned, so that its batches have finished and its calls have left Genesys' minute; 0: off (docs/migration.md) (MIGRATION_QUIET_MINUTES)."
  type        = number
  default     = 15
  validation {
    condition     = var.migration_quiet_minutes >= 0 && var.migration_quiet_minutes <= 720 && floor(var.migration_quiet_minutes) == var.migration_quiet_minutes
    error_message = "migration_quiet_minutes must be an integer from 0 to 720."
  }
}

variable "download_concurrency" {
  description = "Recording downloads in flight per batch (DOWNLOAD_CONCURRENCY)."
  type        = number
  default     = 8
  validation {
    condition     = floor(var.download_concurrency) == var.download_concurrency && var.download_concurrency >= 1 && var.download_concurrency <= 64
    error_message = "download_concurrency must be an integer from 1 to 64."
  }
}

variable "email_max_gaps" {
  description = "Gaps listed in one email; all of them are in _FAILURE (EMAIL_MAX_GAPS)."
  type        = number
  default     = 25
  validation {
    condition     = floor(var.email_max_gaps) == var.email_max_gaps && var.email_max_gaps >= 1 && var.email_max_gaps <= 1000
    error_message = "email_max_gaps must be an integer from 1 to 1000."
  }
}

variable "export_env" {
  description = "Top-level folder in the bucket, e.g. brave (EXPORT_ENV)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.export_env))
    error_message = "export_env must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit."
  }
}

variable "function_error_threshold" {
  description = "Failed function requests (HTTP 5xx) in 10 minutes above which the error alert fires. Transient Genesys errors make the worker fail a delivery on purpose (Pub/Sub retries it), so a few are normal."
  type        = number
  default     = 20
  validation {
    condition     = var.function_error_threshold >= 0
    error_message = "function_error_threshold must not be negative."
  }
}

variable "function_source_dir" {
  description = "Repository root to package the functions from; null means the directory above infra/."
  type        = string
  default     = null
}

variable "genesys_environment" {
  description = "Genesys Cloud region host, e.g. mypurecloud.ie or euw2.pure.cloud (GENESYS_ENVIRONMENT)."
  type        = string
  default     = "mypurecloud.com"
  validation {
    condition     = can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)+$", var.genesys_environment))
    error_message = "genesys_environment must be a host name such as mypurecloud.ie, without scheme or path."
  }
}

variable "genesys_max_attempts" {
  description = "Attempts per Genesys request before giving up (GENESYS_MAX_ATTEMPTS)."
  type        = number
  default     = 6
  validation {
    condition     = floor(var.genesys_max_attempts) == var.genesys_max_attempts && var.genesys_max_attempts >= 1 && var.genesys_max_attempts <= 20
    error_message = "genesys_max_attempts must be an integer from 1 to 20."
  }
}

variable "genesys_token_requests_per_minute" {
  description = "Genesys' request limit per token and minute, token.rate.per.minute (GENESYS_TOKEN_REQUESTS_PER_MINUTE). Raise it only if Genesys raised it for your org."
  type        = number
  default     = 300
  validation {
    condition     = floor(var.genesys_token_requests_per_minute) == var.genesys_token_requests_per_minute && var.genesys_token_requests_per_minute >= 1 && var.genesys_token_requests_per_minute <= 100000
    error_message = "genesys_token_requests_per_minute must be an integer from 1 to 100000."
  }
}

variable "genesys_client_requests_per_minute" {
  description = "Genesys' request limit per OAuth client and minute across its tokens, org.app.user.rate.per.minute (GENESYS_CLIENT_REQUESTS_PER_MINUTE). Each worker instance paces itself to 90 % of it divided by worker_max_instances, each planner instance to 10 % divided by its 2 instances, on every client (at most the per-token limit)."
  type        = number
  default     = 3000
  validation {
    condition     = floor(var.genesys_client_requests_per_minute) == var.genesys_client_requests_per_minute && var.genesys_client_requests_per_minute >= 1 && var.genesys_client_requests_per_minute <= 1000000
    error_message = "genesys_client_requests_per_minute must be an integer from 1 to 1000000."
  }
}

variable "kms_key" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K, in region) that encrypts the recordings and source buckets, the Pub/Sub topics, the secrets, the functions, their images and Eventarc's events; empty uses Google-managed keys. Once set, never empty it again: what was written under it stays encrypted with it (infra/README.md, Compliance options)."
  type        = string
  default     = ""
  validation {
    condition     = var.kms_key == "" || can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$", var.kms_key))
    error_message = "kms_key must be empty or a key id like projects/my-project/locations/europe-west1/keyRings/grm/cryptoKeys/grm (not a key version)."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels (app and export_env are always set)."
  type        = map(string)
  default     = {}
}

variable "mail_from" {
  description = "Sender of the developer emails, a verified SendGrid sender (MAIL_FROM)."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s<>\",;]+@[^@\\s<>\",;]+\\.[^@\\s<>\",;]+$", var.mail_from))
    error_message = "mail_from must be one email address."
  }
}

variable "max_auto_reruns" {
  description = "Automatic reruns of one day by check-previous, at most (MAX_AUTO_RERUNS)."
  type        = number
  default     = 2
  validation {
    condition     = floor(var.max_auto_reruns) == var.max_auto_reruns && var.max_auto_reruns >= 0 && var.max_auto_reruns <= 10
    error_message = "max_auto_reruns must be an integer from 0 to 10."
  }
}

variable "max_backfill_days" {
  description = "Most days one planner request may cover (MAX_BACKFILL_DAYS)."
  type        = number
  default     = 31
  validation {
    condition     = floor(var.max_backfill_days) == var.max_backfill_days && var.max_backfill_days >= 1 && var.max_backfill_days <= 366
    error_message = "max_backfill_days must be an integer from 1 to 366."
  }
}

variable "max_batch_attempts" {
  description = "Deliveries of one batch message after which the worker writes a failed report instead of retrying (MAX_BATCH_ATTEMPTS); keep it below max_delivery_attempts so the day is concluded before Pub/Sub dead-letters the message."
  type        = number
  default     = 4
  validation {
    condition     = floor(var.max_batch_attempts) == var.max_batch_attempts && var.max_batch_attempts >= 1 && var.max_batch_attempts <= 100
    error_message = "max_batch_attempts must be an integer from 1 to 100."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a batch message before Pub/Sub moves it to the dead-letter topic (Pub/Sub allows 5 to 100). Pushes refused while every worker instance is busy count too, so keep it high: the worker itself reports a batch failed after max_batch_attempts real attempts."
  type        = number
  default     = 100
  validation {
    condition     = floor(var.max_delivery_attempts) == var.max_delivery_attempts && var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be an integer from 5 to 100."
  }
}

variable "media_idle_timeout_ms" {
  description = "A media download that sends no bytes for this long, in ms, is abandoned and retried (MEDIA_IDLE_TIMEOUT_MS)."
  type        = number
  default     = 60000
  validation {
    condition     = floor(var.media_idle_timeout_ms) == var.media_idle_timeout_ms && var.media_idle_timeout_ms >= 1000 && var.media_idle_timeout_ms <= 600000
    error_message = "media_idle_timeout_ms must be an integer from 1000 to 600000."
  }
}

variable "media_storage_classes" {
  description = "Storage classes the audio and video recordings (by file extension) move to as they age, e.g. [{ age_days = 30, storage_class = \"NEARLINE\" }, { age_days = 365, storage_class = \"ARCHIVE\" }]; empty keeps them in Standard. Colder classes store for less and charge for every read (infra/README.md, Compliance options)."
  type = list(object({
    age_days      = number
    storage_class = string
  }))
  default = []
  validation {
    condition     = alltrue([for t in var.media_storage_classes : contains(["NEARLINE", "COLDLINE", "ARCHIVE"], t.storage_class) && floor(t.age_days) == t.age_days && t.age_days >= 1 && t.age_days <= 36500])
    error_message = "media_storage_classes must hold storage_class NEARLINE, COLDLINE or ARCHIVE with an integer age_days from 1 to 36500."
  }
  validation {
    condition     = length(distinct([for t in var.media_storage_classes : t.storage_class])) == length(var.media_storage_classes)
    error_message = "media_storage_classes must name each storage class once."
  }
}

variable "noncurrent_bookkeeping_days" {
  description = "Days a replaced or deleted generation of a marker, plan, ledger, rejected-message record or index entry is kept before a lifecycle rule deletes it; 0 keeps them all. Reports, attempt counters and metadata are not matched (infra/README.md, Compliance options)."
  type        = number
  default     = 90
  validation {
    condition     = floor(var.noncurrent_bookkeeping_days) == var.noncurrent_bookkeeping_days && var.noncurrent_bookkeeping_days >= 0 && var.noncurrent_bookkeeping_days <= 36500
    error_message = "noncurrent_bookkeeping_days must be an integer from 0 to 36500."
  }
}

variable "notification_channels" {
  description = "Existing Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) for the alerts."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "notification_channels must hold ids like projects/my-project/notificationChannels/123."
  }
}

variable "operator_members" {
  description = "Who operates the export (IAM members: user:, group:, serviceAccount:, principal:// or principalSet://): may call the planner (reruns) and, when planner_ingress is not ALLOW_ALL, run the scheduler job, publish replays, read the bookkeeping in the bucket (not the recordings), pull the dead letters, and read logs and alerts."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.operator_members : can(regex("^((user|group|serviceAccount):[^@\\s]+@[^@\\s]+|principal(Set)?://\\S+)$", m))])
    error_message = "operator_members must hold IAM members like user:ana@example.com, group:ops@example.com or principalSet://iam.googleapis.com/..."
  }
}

variable "planner_ingress" {
  description = "Who can reach the planner over the network: ALLOW_ALL (default; still only callers with run.invoker, i.e. the scheduler, operator_members and composer_service_account), ALLOW_INTERNAL_ONLY (Cloud Scheduler and your VPC only; operators then rerun from inside the VPC, and a Composer environment needs a path through the VPC) or ALLOW_INTERNAL_AND_GCLB. The worker and the checker are always internal-only."
  type        = string
  default     = "ALLOW_ALL"
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.planner_ingress)
    error_message = "planner_ingress must be one of ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB."
  }
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

variable "project_grants" {
  description = "Whether this deployment makes, and on destroy removes, the grants and settings of the whole project that every deployment in it shares: the Cloud Storage agent's pubsub.publisher, the Eventarc agent's role, operator_members' and bigquery_reader_members' project roles, and storage_data_access_logs. Keep true with one project per environment (recommended); with several deployments in one project, set it false in all but one, which is applied first and destroyed last (infra/README.md, Environments)."
  type        = bool
  default     = true
}

variable "project_id" {
  description = "Project to deploy into."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lower-case letters, digits or '-'), not a project name or number."
  }
}

variable "region" {
  description = "Region of the functions, the scheduler job, the bucket and the build repository."
  type        = string
  default     = "europe-west1"
}

variable "retention_days" {
  description = "Days every recording and metadata document is retained from its upload: the worker sets an object retention on each, and until then nobody can delete that generation (deleting or replacing the live object only makes it noncurrent); 0 sets none. Above 0 the bucket is created with object retention enabled, which must be decided when the bucket is created (infra/README.md, Compliance options) (RETENTION_DAYS)."
  type        = number
  default     = 0
  validation {
    condition     = floor(var.retention_days) == var.retention_days && var.retention_days >= 0 && var.retention_days <= 36500
    error_message = "retention_days must be an integer from 0 to 36500."
  }
}

variable "retention_mode" {
  description = "Mode of that retention: unlocked (whoever holds storage.objects.overrideUnlockedRetention, which no function does, may shorten or remove it) or locked (nobody can; it can only be extended) (RETENTION_MODE)."
  type        = string
  default     = "unlocked"
  validation {
    condition     = contains(["unlocked", "locked"], var.retention_mode)
    error_message = "retention_mode must be one of unlocked, locked."
  }
}

variable "rollout_id" {
  description = "Change it (e.g. to the date) to start new instances of every function without redeploying them, for example after adding a new version of a secret: functions read each secret once per instance."
  type        = string
  default     = "1"
  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.rollout_id))
    error_message = "rollout_id must be 1-64 letters, digits, '.', '_' or '-'."
  }
}

variable "run_grace_minutes" {
  description = "A run younger than this without a marker is taken to be still running by check-previous, in minutes (RUN_GRACE_MINUTES)."
  type        = number
  default     = 720
  validation {
    condition     = floor(var.run_grace_minutes) == var.run_grace_minutes && var.run_grace_minutes >= 0 && var.run_grace_minutes <= 10080
    error_message = "run_grace_minutes must be an integer from 0 to 10080."
  }
}

variable "schedule" {
  description = "Cron schedule of the nightly run (Cloud Scheduler's unix-cron, five fields), in time_zone. The planner reads it too (SCHEDULE): a history migration keeps quiet migration_quiet_minutes before each start. Restrict the day of the month or the day of the week, not both."
  type        = string
  default     = "0 0 * * *"
  validation {
    # Five fields, the day of the month or the day of the week "*": the forms the planner reads
    # (functions/core/cron.ts); it refuses out-of-range values when it starts.
    condition     = can(regex("^\\s*[0-9A-Za-z*,/-]+\\s+[0-9A-Za-z*,/-]+\\s+(\\*\\s+[0-9A-Za-z*,/-]+\\s+[0-9A-Za-z*,/-]+|[0-9A-Za-z*,/-]+\\s+[0-9A-Za-z*,/-]+\\s+\\*)\\s*$", var.schedule))
    error_message = "schedule must be a five-field cron expression such as \"30 2 * * *\", with the day of the month or the day of the week \"*\"."
  }
}

variable "secret_replica_locations" {
  description = "Regions that hold the secrets (user-managed replication), e.g. [\"europe-west1\", \"europe-west4\"] for data that must stay in the EU; empty lets Google choose (automatic replication)."
  type        = list(string)
  default     = []
}

variable "storage_data_access_logs" {
  description = "Turns on Data Access audit logs (DATA_READ, DATA_WRITE) of Cloud Storage: who read, listed or wrote which object. Project-wide for Cloud Storage (every bucket of the project), and it replaces any other project-level audit setting of Cloud Storage; billed as log volume (infra/README.md, Compliance options)."
  type        = bool
  default     = false
}

variable "time_zone" {
  description = "IANA zone that defines a day (TIME_ZONE), also the schedule's zone."
  type        = string
  default     = "Etc/UTC"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$", var.time_zone))
    error_message = "time_zone must be an IANA zone name such as Etc/UTC or Europe/Brussels."
  }
}

variable "window_lag_days" {
  description = "A run exports the day this many days before its own (WINDOW_LAG_DAYS)."
  type        = number
  default     = 3
  validation {
    condition     = floor(var.window_lag_days) == var.window_lag_days && var.window_lag_days >= 0 && var.window_lag_days <= 30
    error_message = "window_lag_days must be an integer from 0 to 30."
  }
}

variable "worker_max_instances" {
  description = "Most worker instances at once; each exports one batch at a time."
  type        = number
  default     = 20
  validation {
    condition     = floor(var.worker_max_instances) == var.worker_max_instances && var.worker_max_instances >= 1 && var.worker_max_instances <= 1000
    error_message = "worker_max_instances must be an integer from 1 to 1000."
  }
}
