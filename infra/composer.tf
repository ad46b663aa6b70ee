# Optional: a Cloud Composer (Airflow) environment triggers the nightly run
# instead of Cloud Scheduler, with the DAG in infra/composer/ (docs/composer.md).
# Its service account may invoke the planner, and the scheduler job is paused
# (scheduler.tf), so that each day is planned once.
resource "google_cloud_run_service_iam_member" "composer_invokes_planner" {
  for_each = toset(var.composer_service_account == "" ? [] : [var.composer_service_account])
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn["planner"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value}"
}
