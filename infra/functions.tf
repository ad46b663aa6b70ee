# The Cloud Functions (gen2, Node.js 22), one entry point each, from one
# source archive. Entry points match what functions/index.ts registers.
locals {
  functions = {
    planner = {
      entry_point     = "planExport"
      sa              = google_service_account.planner.email
      timeout         = 1800
      memory          = "1Gi"
      max_instances   = 2
      invoker         = google_service_account.scheduler.member
      storage_trigger = false
    }
    worker = {
      entry_point     = "exportBatch"
      sa              = google_service_account.worker.email
      timeout         = 600
      memory          = "2Gi"
      max_instances   = 20
      invoker         = google_service_account.pusher.member
      storage_trigger = false
    }
    # Fed every object-finalize event of the recordings bucket by Eventarc;
    # returns at once for anything but plans and batch reports.
    checker = {
      entry_point     = "checkDay"
      sa              = google_service_account.checker.email
      timeout         = 540
      memory          = "1Gi"
      max_instances   = 10
      invoker         = google_service_account.eventarc.member
      storage_trigger = true
    }
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions
  name     = "${local.prefix}${each.key}"
  location = var.region
  build_config {
    runtime     = "nodejs22"
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }
  service_config {
    available_memory      = each.value.memory
    timeout_seconds       = each.value.timeout
    max_instance_count    = each.value.max_instances
    service_account_email = each.value.sa
    ingress_settings      = "ALLOW_ALL"
    environment_variables = local.function_env
  }
  # At-least-once: a checker that throws (an email not sent yet) gets the event again.
  dynamic "event_trigger" {
    for_each = each.value.storage_trigger ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.eventarc.email
      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.recordings.name
      }
    }
  }
  depends_on = [google_project_service.apis, google_project_iam_member.gcs_pubsub]
}

# Only Cloud Scheduler may call the planner, only Pub/Sub push the worker, only
# the Eventarc trigger's identity the checker.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.functions
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = each.value.invoker
}
