# Providers, shared locals and the APIs. Every other resource depends on the
# APIs (directly or through a reference), so a first apply on a fresh project
# never races their enablement; test/repo/infra.spec.ts checks that.
locals {
  prefix = "${var.prefix}-"
  # Whether this deployment owns what belongs to the whole project, shared by
  # every deployment in it (infra/README.md, "Environments"): the Cloud
  # Storage and Eventarc agents' roles, operator_members' and
  # bigquery_reader_members' project roles, and Cloud Storage's audit config.
  project_grants = var.project_grants
  apis = setunion(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "cloudscheduler.googleapis.com",
      "eventarc.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "serviceusage.googleapis.com",
      "storage.googleapis.com",
    ],
    # Only with SQL over the archive (bigquery.tf).
    var.bigquery_dataset != "" ? ["bigquery.googleapis.com", "bigqueryconnection.googleapis.com"] : [],
    # Only with kms_key (kms.tf): the key's IAM is managed through it.
    local.cmek ? ["cloudkms.googleapis.com"] : [],
  )
  labels = merge(
    { app = "genesys-recording-migrator", export_env = var.export_env },
    var.labels,
  )
  # The configuration every function reads (functions/config.ts); the
  # local-stack-only settings (GENESYS_GATEWAY_URL, SECRET_MANAGER_EMULATOR_HOST,
  # SENDGRID_API_URL, PUBSUB_EMULATOR_HOST) are never set here.
  function_env = {
    ARCHIVED_POLICY                    = var.archived_policy
    BATCHES_TOPIC                      = google_pubsub_topic.batches.name
    BATCH_DEADLINE_MS                  = tostring(var.batch_deadline_ms)
    BATCH_POLL_DEADLINE_MS             = tostring(var.batch_poll_deadline_ms)
    BATCH_SIZE                         = tostring(var.batch_size)
    BUCKET                             = google_storage_bucket.recordings.name
    CHECK_PREVIOUS_DAYS                = tostring(var.check_previous_days)
    DEVELOPER_EMAILS                   = join(",", var.developer_emails)
    DISCOVERY                          = var.discovery
    DOWNLOAD_CONCURRENCY               = tostring(var.download_concurrency)
    EMAIL_MAX_GAPS                     = tostring(var.email_max_gaps)
    EXPORT_ENV                         = var.export_env
    GENESYS_CREDENTIALS_SECRET         = google_secret_manager_secret.secret["genesys_clients"].secret_id
    GENESYS_ENVIRONMENT                = var.genesys_environment
    GENESYS_MAX_ATTEMPTS               = tostring(var.genesys_max_attempts)
    GENESYS_TOKEN_REQUESTS_PER_MINUTE  = tostring(var.genesys_token_requests_per_minute)
    GENESYS_CLIENT_REQUESTS_PER_MINUTE = tostring(var.genesys_client_requests_per_minute)
    # Each instance paces itself to its role's share of a client's limit, split by its max instances.
    WORKER_INSTANCES      = tostring(local.functions.worker.max_instances)
    PLANNER_INSTANCES     = tostring(local.functions.planner.max_instances)
    GOOGLE_CLOUD_PROJECT  = var.project_id
    LOG_EXECUTION_ID      = "true"
    MAIL_FROM             = var.mail_from
    MAX_AUTO_RERUNS       = tostring(var.max_auto_reruns)
    MAX_BACKFILL_DAYS     = tostring(var.max_backfill_days)
    MAX_BATCH_ATTEMPTS    = tostring(var.max_batch_attempts)
    MEDIA_IDLE_TIMEOUT_MS = tostring(var.media_idle_timeout_ms)
    METADATA              = var.metadata
    # A history migration's part of each worker's budget, its batches in flight at most, and the
    # quiet before each nightly run (the planner reads the nightly job's schedule, in TIME_ZONE).
    MIGRATION_SHARE               = tostring(var.migration_share)
    MIGRATION_OUTSTANDING_BATCHES = tostring(var.migration_outstanding_batches)
    MIGRATION_QUIET_MINUTES       = tostring(var.migration_quiet_minutes)
    SCHEDULE                      = var.schedule
    # Set by the worker on every recording and metadata document it creates.
    RETENTION_DAYS = tostring(var.retention_days)
    RETENTION_MODE = var.retention_mode
    # How far back the analytics jobs API is relied on (the history horizon).
    ANALYTICS_HORIZON_DAYS = tostring(var.analytics_horizon_days)
    # Restores of archived recordings (ARCHIVED_POLICY=restore), run by the planner's tick.
    RESTORE_OUTSTANDING    = tostring(var.restore_outstanding)
    RESTORE_HOLD_HOURS     = tostring(var.restore_hold_hours)
    RESTORE_POLL_SECONDS   = tostring(var.restore_poll_seconds)
    RESTORE_CALLS_PER_TICK = tostring(var.restore_calls_per_tick)
    # Read by nobody: changing it rolls new instances of every function.
    ROLLOUT_ID          = var.rollout_id
    RUN_GRACE_MINUTES   = tostring(var.run_grace_minutes)
    SENDGRID_KEY_SECRET = google_secret_manager_secret.secret["sendgrid_api_key"].secret_id
    TIME_ZONE           = var.time_zone
    WINDOW_LAG_DAYS     = tostring(var.window_lag_days)
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# Only for google_project_service_identity, which the GA provider lacks.
provider "google-beta" {
  project = var.project_id
  region  = var.region
}

# Read at plan time, so Resource Manager is enabled before the first apply
# (infra/README.md); a depends_on here would make its values unknown, and
# grants built from them replaced, whenever the API set changes.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each                   = local.apis
  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}

# The Pub/Sub service agent forwards dead letters. It does not exist on a
# fresh project until something asks for it; this creates it and gives its
# address instead of building it by hand.
resource "google_project_service_identity" "pubsub" {
  provider   = google-beta
  project    = var.project_id
  service    = "pubsub.googleapis.com"
  depends_on = [google_project_service.apis]
}
