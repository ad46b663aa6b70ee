# Batches topic, its push subscription to the worker (retry policy and
# dead-letter topic), and the dead-letter topic with a subscription that keeps
# what lands there. No subscription ever expires.
resource "google_pubsub_topic" "batches" {
  project      = var.project_id
  name         = "${local.prefix}recording-batches"
  labels       = local.labels
  kms_key_name = local.cmek ? var.kms_key : null
  depends_on   = [google_project_service.apis, time_sleep.kms_grants]
}

resource "google_pubsub_topic" "dead_letter" {
  project      = var.project_id
  name         = "${local.prefix}recording-batches-dead-letter"
  labels       = local.labels
  kms_key_name = local.cmek ? var.kms_key : null
  depends_on   = [google_project_service.apis, time_sleep.kms_grants]
}

# Pub/Sub drops messages sent to a dead-letter topic without a subscription,
# and by default a subscription nobody pulls from is deleted after 31 days.
resource "google_pubsub_subscription" "dead_letter_keep" {
  project                    = var.project_id
  name                       = "${local.prefix}recording-batches-dead-letter-keep"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "worker" {
  project              = var.project_id
  name                 = "${local.prefix}recording-batches-worker"
  topic                = google_pubsub_topic.batches.id
  labels               = local.labels
  ack_deadline_seconds = 600
  push_config {
    # The path makes the Functions Framework report the topic as the event source.
    push_endpoint = "${google_cloudfunctions2_function.fn["worker"].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.batches.name}"
    oidc_token {
      service_account_email = google_service_account.sa["pusher"].email
      # The service's own URL: what Cloud Run checks the token's audience against.
      audience = google_cloudfunctions2_function.fn["worker"].service_config[0].uri
    }
  }
  expiration_policy {
    ttl = ""
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
  # The push identity must be able to invoke the worker before the first push.
  depends_on = [google_cloud_run_service_iam_member.invoker]
}

resource "google_pubsub_topic_iam_member" "planner_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.batches.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.sa["planner"].member
}

# Pub/Sub's own agent forwards undeliverable messages to the dead-letter
# topic, and must be able to acknowledge them on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.worker.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}
