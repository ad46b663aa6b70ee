# Outputs, alphabetical.
output "batches_topic" {
  description = "Topic to publish replays to."
  value       = google_pubsub_topic.batches.name
}

output "bucket" {
  description = "Bucket the recordings land in."
  value       = google_storage_bucket.recordings.name
}

output "dead_letter_subscription" {
  description = "Subscription holding batch messages that kept failing."
  value       = google_pubsub_subscription.dead_letter_keep.name
}

output "genesys_clients_secret" {
  description = "Secret to add the Genesys OAuth clients to."
  value       = google_secret_manager_secret.genesys_clients.secret_id
}

output "sendgrid_api_key_secret" {
  description = "Secret to add the SendGrid API key to."
  value       = google_secret_manager_secret.sendgrid_api_key.secret_id
}

output "planner_url" {
  description = "URL of the planner (callable by the scheduler identity)."
  value       = google_cloudfunctions2_function.fn["planner"].service_config[0].uri
}
