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

resource "google_service_account" "scheduler" {
  account_id   = "${local.prefix}scheduler"
  display_name = "Cloud Scheduler caller of the planner"
}

resource "google_service_account" "pusher" {
  account_id   = "${local.prefix}pusher"
  display_name = "Pub/Sub push identity for the worker"
}

resource "google_project_iam_member" "logging" {
  for_each = { planner = google_service_account.planner.member, worker = google_service_account.worker.member }
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = each.value
}

resource "google_project_iam_member" "metrics" {
  for_each = { planner = google_service_account.planner.member, worker = google_service_account.worker.member }
  project  = var.project_id
  role     = "roles/monitoring.metricWriter"
  member   = each.value
}
