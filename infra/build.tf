# How the functions are built: the source archive (an allow-list of what the
# functions need, byte-for-byte reproducible), the bucket it is uploaded to,
# the Artifact Registry repository the builds push to, and the build identity
# with only what a build needs (Cloud Build's default identity, the Compute
# default service account, has no roles in recent organisations).
locals {
  source_root = coalesce(var.function_source_dir, "${path.module}/..")
  # What `npm ci` and `npm run gcp-build` need in the build, and nothing else:
  # no tests, no local stack, no infra, no stray credentials from the root.
  # The JSON files are data the functions import (the recordings index's
  # schema, which bigquery.tf gives the table too).
  source_files = sort(concat(
    ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"],
    tolist(fileset(local.source_root, "functions/**/*.ts")),
    tolist(fileset(local.source_root, "functions/**/*.json")),
  ))
}

# Built from `source` blocks, the archive has the same bytes on every machine:
# the archive provider writes such entries in name order, with no file mode
# and no timestamp, so an unchanged tree never redeploys the functions.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.module}/.build/source.zip"
  dynamic "source" {
    for_each = local.source_files
    content {
      content  = file("${local.source_root}/${source.value}")
      filename = source.value
    }
  }
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${local.prefix}${var.project_id}-fn-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  dynamic "encryption" {
    for_each = local.cmek ? [1] : []
    content {
      default_kms_key_name = var.kms_key
    }
  }
  # Only build archives live here: terraform destroy may empty it.
  force_destroy = true
  depends_on    = [google_project_service.apis, time_sleep.kms_grants]
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_sha256}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "${local.prefix}functions"
  description   = "Images of the genesys-recording-migrator functions"
  format        = "DOCKER"
  labels        = local.labels
  # Cloud Functions' CMEK needs the images under the same key; fixed when the
  # repository is created (setting kms_key later replaces it).
  kms_key_name = local.cmek ? var.kms_key : null
  # Keep the images of the last deployments only.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
  depends_on = [google_project_service.apis, time_sleep.kms_grants]
}

# Cloud Functions copies the uploaded archive into its own bucket
# gcf-v2-sources-PROJECT_NUMBER-REGION, which it creates on the first deploy,
# and the build reads it from there: a project-level grant, but only on that
# bucket's objects.
resource "google_project_iam_member" "build_reads_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.sa["build"].member
  condition {
    title       = "function sources only"
    description = "Cloud Functions' own source bucket in ${var.region}"
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}/\")"
  }
}

resource "google_artifact_registry_repository_iam_member" "build_pushes" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.sa["build"].member
}

# IAM grants take a while to be seen everywhere; a build started at once on a
# fresh project can fail on them (Google's own examples wait 60 s as well).
resource "time_sleep" "build_grants" {
  create_duration = "60s"
  triggers = {
    build = google_service_account.sa["build"].member
  }
  depends_on = [
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes,
    google_project_iam_member.log_writer,
  ]
}
