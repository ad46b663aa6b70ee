# The Cloud Functions (gen2, Node.js 22), one entry point each, from one
# source archive. Entry points match what functions/index.ts registers.
locals {
  functions = {
    planner = {
      entry_point = "planExport"
      sa          = google_service_account.planner.email
      timeout     = 1800
      memory      = "1Gi"
      invoker     = google_service_account.scheduler.member
    }
    worker = {
      entry_point = "exportBatch"
      sa          = google_service_account.worker.email
      timeout     = 600
      memory      = "2Gi"
      invoker     = google_service_account.pusher.member
    }
  }
}

resource "google_cloudfunctions2_function" "planner" {
  name     = "${local.prefix}planner"
  location = var.region
  build_config {
    runtime     = "nodejs22"
    entry_point = local.functions.planner.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }
  service_config {
    available_memory      = local.functions.planner.memory
    timeout_seconds       = local.functions.planner.timeout
    max_instance_count    = 2
    service_account_email = local.functions.planner.sa
    ingress_settings      = "ALLOW_ALL"
    environment_variables = local.function_env
  }
  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "worker" {
  name     = "${local.prefix}worker"
  location = var.region
  build_config {
    runtime     = "nodejs22"
    entry_point = local.functions.worker.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }
  service_config {
    available_memory      = local.functions.worker.memory
    timeout_seconds       = local.functions.worker.timeout
    max_instance_count    = 20
    service_account_email = local.functions.worker.sa
    ingress_settings      = "ALLOW_ALL"
    environment_variables = local.function_env
  }
  depends_on = [google_project_service.apis]
}

# Only Cloud Scheduler may call the planner; only Pub/Sub push may call the worker.
resource "google_cloud_run_service_iam_member" "planner_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.planner.name
  role     = "roles/run.invoker"
  member   = local.functions.planner.invoker
}

resource "google_cloud_run_service_iam_member" "worker_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.worker.name
  role     = "roles/run.invoker"
  member   = local.functions.worker.invoker
}
