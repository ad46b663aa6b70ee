# What operator_members may do (infra/README.md, "Operating it"): rerun a day
# through the planner, replay batches by publishing to the batches topic,
# read everything in the bucket (markers, reports, recordings), pull and
# acknowledge dead letters, and read the functions' logs. They cannot write
# to the bucket: fixes go through the pipeline.
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

resource "google_storage_bucket_iam_member" "operator_reads" {
  for_each = toset(var.operator_members)
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

resource "google_project_iam_member" "operator_logs" {
  for_each   = toset(var.operator_members)
  project    = var.project_id
  role       = "roles/logging.viewer"
  member     = each.value
  depends_on = [google_project_service.apis]
}
