# What operator_members may do (infra/README.md, "Who may do what"): rerun a
# day through the planner (and look up its URL) or, when they cannot reach the
# planner, the scheduler job, replay
# batches by publishing to the batches topic, read the markers, reports,
# plans and metadata of the export_env folder (not the recordings: that is
# archive_reader_members), pull and acknowledge dead letters, and read logs
# and alerts. They cannot write to the bucket: fixes go through the pipeline.
locals {
  # Running the scheduler job is their way to rerun the night only when the
  # planner is not reachable from where they are (planner_ingress); Cloud
  # Scheduler grants it on the project alone (no job-level IAM), so it would
  # let them run any job of the project: with ALLOW_ALL they call the planner.
  operator_project_roles = concat(
    ["roles/logging.viewer", "roles/monitoring.viewer"],
    var.planner_ingress == "ALLOW_ALL" ? [] : ["roles/cloudscheduler.jobRunner"],
  )
}

resource "google_cloud_run_service_iam_member" "operator_invokes_planner" {
  for_each = toset(var.operator_members)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn["planner"].name
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_pubsub_topic_iam_member" "operator_publishes" {
  for_each = toset(var.operator_members)
  project  = var.project_id
  topic    = google_pubsub_topic.batches.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

resource "google_cloud_run_service_iam_member" "operator_views_planner" {
  for_each = toset(var.operator_members)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn["planner"].name
  role     = "roles/run.viewer"
  member   = each.value
}

resource "google_storage_bucket_iam_member" "operator_reads" {
  for_each = toset(var.operator_members)
  bucket   = google_storage_bucket.recordings.name
  role     = "roles/storage.objectViewer"
  member   = each.value
  condition {
    title       = "bookkeeping of own export_env"
    description = "genesys-recording-migrator operators: markers, manifests, metadata, rejected messages"
    expression  = "${local.listing} || (${local.in_env} && ${local.bookkeeping})"
  }
}

# Waivers (grm waive): append-only objects under a day's _manifest/waivers/,
# which the checker reads to decide the day again.
resource "google_storage_bucket_iam_member" "operator_waives" {
  for_each = toset(var.operator_members)
  bucket   = google_storage_bucket.recordings.name
  role     = "roles/storage.objectCreator"
  member   = each.value
  condition {
    title       = "waivers of own export_env"
    description = "genesys-recording-migrator operators: create waivers, never replace them"
    expression  = "${local.in_env} && ${local.waivers}"
  }
}

# Reading the recordings themselves (call audio, transcripts, emails, screens)
# is a separate, audited right.
resource "google_storage_bucket_iam_member" "archive_readers" {
  for_each = toset(var.archive_reader_members)
  bucket   = google_storage_bucket.recordings.name
  role     = "roles/storage.objectViewer"
  member   = each.value
}

resource "google_pubsub_subscription_iam_member" "operator_dead_letters" {
  for_each = {
    for pair in setproduct(var.operator_members, ["roles/pubsub.subscriber", "roles/pubsub.viewer"]) :
    "${pair[0]} ${pair[1]}" => { member = pair[0], role = pair[1] }
  }
  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter_keep.name
  role         = each.value.role
  member       = each.value.member
}

# Project-wide: shared by every deployment in the project (project_grants).
resource "google_project_iam_member" "operator" {
  for_each = local.project_grants ? {
    for pair in setproduct(var.operator_members, local.operator_project_roles) :
    "${pair[0]} ${pair[1]}" => { member = pair[0], role = pair[1] }
  } : {}
  project    = var.project_id
  role       = each.value.role
  member     = each.value.member
  depends_on = [google_project_service.apis]
}
