# Batches topic, its push subscription to the worker (retry policy and
# dead-letter topic), and the dead-letter topic with a subscription that keeps
# what lands there.
resource "google_pubsub_topic" "batches" {
  name = "${local.prefix}recording-batches"
}

resource "google_pubsub_topic" "dead_letter" {
  name = "${local.prefix}recording-batches-dead-letter"
}

resource "google_pubsub_subscription" "dead_letter_keep" {
  name                       = "${local.prefix}recording-batches-dead-letter-keep"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "worker" {
  name                 = "${local.prefix}recording-batches-worker"
  topic                = google_pubsub_topic.batches.id
  ack_deadline_seconds = 600
  push_config {
    # The path makes the Functions Framework report the topic as the event source.
    push_endpoint = "${google_cloudfunctions2_function.fn["worker"].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.batches.name}"
    oidc_token {
      service_account_email = google_service_account.pusher.email
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

resource "google_pubsub_topic_iam_member" "planner_publishes" {
  topic  = google_pubsub_topic.batches.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.planner.member
}

# Pub/Sub's own agent forwards undeliverable messages to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.worker.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
