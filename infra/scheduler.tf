# The nightly run: Cloud Scheduler calls the planner with an OIDC token. The
# planner takes the window from the X-CloudScheduler-ScheduleTime header, so a
# retried or late attempt still plans the intended day. Paused when a Cloud
# Composer DAG triggers the nightly run instead (composer.tf).
resource "google_cloud_scheduler_job" "nightly" {
  project          = var.project_id
  name             = "${local.prefix}nightly-export"
  description      = "Plans the nightly export of genesys-recording-migrator (${var.export_env})"
  region           = var.region
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = "1800s"
  paused           = var.composer_service_account != ""
  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }
  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
    }
  }
  depends_on = [google_cloud_run_service_iam_member.invoker]
}

# A history migration's tick: every minute the planner takes the migration's
# next step (publish a few batches, plan the next day, or nothing while a
# nightly day is undecided). With no migration it reads one object and stops.
resource "google_cloud_scheduler_job" "migration_tick" {
  project          = var.project_id
  name             = "${local.prefix}migration-tick"
  description      = "Advances a history migration of genesys-recording-migrator (${var.export_env}), if one runs"
  region           = var.region
  schedule         = "* * * * *"
  time_zone        = var.time_zone
  attempt_deadline = "300s"
  retry_config {
    retry_count = 0
  }
  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{\"migration\":{\"action\":\"tick\"}}")
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
    }
  }
  depends_on = [google_cloud_run_service_iam_member.invoker]
}
