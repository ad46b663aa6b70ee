# SQL over the archive (docs/sql.md), when bigquery_dataset is set: a BigLake
# table over the recordings index the checker writes for every decided day,
# gs://BUCKET/EXPORT_ENV/_index/day=YYYY-MM-DD/recordings.ndjson, one row per
# recording. Hive partitioning turns the day=... folder into the DATE column
# `day` (BigQuery allows no column of that name in the files), and the table
# refuses queries without a filter on it. The columns are
# functions/core/recordings-schema.json, the file the checker checks every row
# against before it writes it.
#
# BigLake rather than a plain external table: BigQuery reads the bucket as the
# connection's service account, which may list the bucket and read the index
# and nothing else, so the people who query need table permissions only,
# never a grant on the bucket that holds the recordings.
locals {
  bigquery  = var.bigquery_dataset != ""
  index_uri = "gs://${google_storage_bucket.recordings.name}/${var.export_env}/_index"
}

resource "google_bigquery_dataset" "index" {
  count       = local.bigquery ? 1 : 0
  project     = var.project_id
  dataset_id  = var.bigquery_dataset
  description = "genesys-recording-migrator: the recordings index of ${var.export_env} (docs/sql.md)"
  # External data is read where it lies: the dataset is in the bucket's location.
  location   = var.region
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

resource "google_bigquery_connection" "index" {
  count         = local.bigquery ? 1 : 0
  project       = var.project_id
  connection_id = "${replace(local.prefix, "-", "_")}recordings_index"
  location      = var.region
  friendly_name = "${local.prefix}recordings-index"
  description   = "BigLake: reads the recordings index of ${var.export_env} for ${var.bigquery_dataset}.recordings"
  cloud_resource {}
  depends_on = [google_project_service.apis]
}

# The connection's service account is created asynchronously: a grant made at
# once can fail with "Service account ... does not exist" (the provider's own
# acceptance tests wait 120 s for it, GoogleCloudPlatform/magic-modules#18751).
resource "time_sleep" "bigquery_connection_account" {
  count           = local.bigquery ? 1 : 0
  create_duration = "120s"
  triggers = {
    account = google_bigquery_connection.index[0].cloud_resource[0].service_account_id
  }
}

# The connection's service account: the bucket's listing and the index, nothing else.
resource "google_storage_bucket_iam_member" "bigquery_reads_index" {
  count  = local.bigquery ? 1 : 0
  bucket = google_storage_bucket.recordings.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${time_sleep.bigquery_connection_account[0].triggers.account}"
  condition {
    title       = "read the recordings index"
    description = "genesys-recording-migrator BigLake connection: the index of own export_env"
    expression  = "${local.listing} || ${local.index}"
  }
}

resource "google_bigquery_table" "recordings" {
  count       = local.bigquery ? 1 : 0
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.index[0].dataset_id
  table_id    = "recordings"
  description = "One row per recording of each decided day of ${var.export_env}: outcome, reason, object, checksums, participants (docs/sql.md). Filter on day."
  labels      = local.labels
  # The file the deployed checker validates its rows against (same source tree).
  schema = file("${local.source_root}/functions/core/recordings-schema.json")
  # BigQuery adds the partition column (day) to the schema it reports: not a change to undo.
  ignore_auto_generated_schema = true
  # Only the definition lives here (the rows are objects in the bucket): dropping it loses nothing.
  deletion_protection = false
  external_data_configuration {
    autodetect    = false
    source_format = "NEWLINE_DELIMITED_JSON"
    # One wildcard, after the bucket name: every day's index.
    source_uris   = ["${local.index_uri}/*"]
    connection_id = google_bigquery_connection.index[0].name
    # A column a later version dropped from the schema is ignored in older days' files.
    ignore_unknown_values = true
    max_bad_records       = 0
    hive_partitioning_options {
      mode                     = "CUSTOM"
      source_uri_prefix        = "${local.index_uri}/{day:DATE}"
      require_partition_filter = true
    }
  }
  depends_on = [google_storage_bucket_iam_member.bigquery_reads_index]
}

# Who may query the table: read it (the dataset) and run query jobs (the project).
resource "google_bigquery_dataset_iam_member" "readers" {
  for_each   = local.bigquery ? toset(var.bigquery_reader_members) : toset([])
  project    = var.project_id
  dataset_id = google_bigquery_dataset.index[0].dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.value
}

# Project-wide: shared by every deployment in the project (project_grants).
resource "google_project_iam_member" "bigquery_reader_jobs" {
  for_each   = local.bigquery && local.project_grants ? toset(var.bigquery_reader_members) : toset([])
  project    = var.project_id
  role       = "roles/bigquery.jobUser"
  member     = each.value
  depends_on = [google_project_service.apis]
}
