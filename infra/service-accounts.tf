# One service account per function, one for Cloud Scheduler, one for Pub/Sub
# push. Project-level roles: logging and metrics only; everything else is
# granted on the resource.
resource "google_service_account" "planner" {
  account_id   = "${local.prefix}planner"
  display_name = "genesys-recording-migrator planner"
}

resource "google_service_account" "worker" {
  account_id   = "${local.prefix}worker"
  display_name = "genesys-recording-migrator batch worker"
}

resource "google_service_account" "checker" {
  account_id   = "${local.prefix}checker"
  display_name = "genesys-recording-migrator completeness checker"
}

resource "google_service_account" "eventarc" {
  account_id   = "${local.prefix}eventarc"
  display_name = "Eventarc trigger identity for the checker"
}

resource "google_service_account" "scheduler" {
  account_id   = "${local.prefix}scheduler"
  display_name = "Cloud Scheduler caller of the planner"
}

resource "google_service_account" "pusher" {
  account_id   = "${local.prefix}pusher"
  display_name = "Pub/Sub push identity for the worker"
}

locals {
  function_members = {
    planner = google_service_account.planner.member
    worker  = google_service_account.worker.member
    checker = google_service_account.checker.member
  }
}

resource "google_project_iam_member" "logging" {
  for_each = local.function_members
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = each.value
}

resource "google_project_iam_member" "metrics" {
  for_each = local.function_members
  project  = var.project_id
  role     = "roles/monitoring.metricWriter"
  member   = each.value
}

# Eventarc's requirements for Cloud Storage triggers, which exist only at the
# project level: the trigger's identity receives events, and the Cloud
# Storage service agent publishes them.
resource "google_project_iam_member" "eventarc_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.eventarc.member
}

data "google_storage_project_service_account" "gcs" {}

resource "google_project_iam_member" "gcs_pubsub" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}
