# Outputs, alphabetical.
output "artifact_repository" {
  description = "Artifact Registry repository the function builds push to."
  value       = google_artifact_registry_repository.functions.id
}

output "batches_topic" {
  description = "Topic to publish replays to (gcloud pubsub topics publish TOPIC --project=...)."
  value       = google_pubsub_topic.batches.name
}

output "bucket" {
  description = "Bucket the recordings land in."
  value       = google_storage_bucket.recordings.name
}

output "checker_url" {
  description = "URL of the checker (internal only; called by Eventarc)."
  value       = google_cloudfunctions2_function.fn["checker"].service_config[0].uri
}

output "composer_environment_variables" {
  description = "Environment variables of a Cloud Composer environment that runs the DAG of infra/composer/ (docs/composer.md): the nightly schedule and its time zone, as schedule and time_zone give them to Cloud Scheduler."
  value = {
    GRM_SCHEDULE  = var.schedule
    GRM_TIME_ZONE = var.time_zone
  }
}

output "dashboard_url" {
  description = "The Cloud Monitoring dashboard of this deployment (infra/README.md, \"The dashboard\")."
  value       = local.dashboard_url
}

output "dead_letter_subscription" {
  description = "Subscription holding batch messages that kept failing (pull it to read them)."
  value       = google_pubsub_subscription.dead_letter_keep.name
}

output "dead_letter_topic" {
  description = "Topic Pub/Sub moves undeliverable batch messages to."
  value       = google_pubsub_topic.dead_letter.name
}

output "export_prefix" {
  description = "Where a day's objects and markers land: gs://BUCKET/ENV/DAY/..."
  value       = "gs://${google_storage_bucket.recordings.name}/${var.export_env}/"
}

output "export_env" {
  description = "Top-level folder of this deployment in the bucket (grm's GRM_ENV)."
  value       = var.export_env
}

output "genesys_clients_secret" {
  description = "Secret to add the Genesys OAuth clients to."
  value       = google_secret_manager_secret.secret["genesys_clients"].secret_id
}

output "planner_url" {
  description = "URL of the planner (callable by the scheduler identity, operator_members and composer_service_account)."
  value       = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
}

output "scheduler_job" {
  description = "Cloud Scheduler job of the nightly run (gcloud scheduler jobs run NAME --location=REGION)."
  value       = google_cloud_scheduler_job.nightly.name
}

output "sendgrid_api_key_secret" {
  description = "Secret to add the SendGrid API key to."
  value       = google_secret_manager_secret.secret["sendgrid_api_key"].secret_id
}

output "service_accounts" {
  description = "Service account emails: planner, worker, checker, build, eventarc, scheduler, pusher."
  value       = { for k, sa in google_service_account.sa : k => sa.email }
}

output "source_bucket" {
  description = "Bucket holding the functions' source archives (emptied by terraform destroy)."
  value       = google_storage_bucket.source.name
}

output "worker_subscription" {
  description = "Push subscription that delivers batches to the worker."
  value       = google_pubsub_subscription.worker.name
}

output "worker_url" {
  description = "URL of the worker (internal only; called by Pub/Sub push)."
  value       = google_cloudfunctions2_function.fn["worker"].service_config[0].uri
}
