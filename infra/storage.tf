# The recordings bucket and the bucket holding the functions' source.
resource "google_storage_bucket" "recordings" {
  name                        = var.bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${local.prefix}${var.project_id}-fn-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = var.function_source_dir
  output_path = "${path.module}/.build/source.zip"
  excludes    = [".git", ".local", ".tools", "node_modules", "build", "test", "bench", "local", "infra"]
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_storage_bucket_iam_member" "planner" {
  bucket = google_storage_bucket.recordings.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.planner.member
}

resource "google_storage_bucket_iam_member" "worker" {
  bucket = google_storage_bucket.recordings.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.worker.member
}

# The checker reads plans and reports, writes the ledger and markers, and
# deletes a _FAILURE that a _SUCCESS replaces.
resource "google_storage_bucket_iam_member" "checker" {
  bucket = google_storage_bucket.recordings.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.checker.member
}
