# Locals and the APIs the pipeline needs.
locals {
  prefix = "${var.prefix}-"
  apis = toset([
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  # The configuration every function reads (see functions/config.ts).
  function_env = {
    BATCHES_TOPIC              = google_pubsub_topic.batches.name
    BATCH_SIZE                 = tostring(var.batch_size)
    BUCKET                     = google_storage_bucket.recordings.name
    CHECK_PREVIOUS_DAYS        = tostring(var.check_previous_days)
    DEVELOPER_EMAILS           = join(",", var.developer_emails)
    EXPORT_ENV                 = var.export_env
    GENESYS_CREDENTIALS_SECRET = google_secret_manager_secret.genesys_clients.secret_id
    GENESYS_ENVIRONMENT        = var.genesys_environment
    GOOGLE_CLOUD_PROJECT       = var.project_id
    LOG_EXECUTION_ID           = "true"
    MAIL_FROM                  = var.mail_from
    MAX_AUTO_RERUNS            = tostring(var.max_auto_reruns)
    SENDGRID_KEY_SECRET        = google_secret_manager_secret.sendgrid_api_key.secret_id
    TIME_ZONE                  = var.time_zone
    WINDOW_LAG_DAYS            = tostring(var.window_lag_days)
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {}

resource "google_project_service" "apis" {
  for_each           = local.apis
  service            = each.value
  disable_on_destroy = false
}
