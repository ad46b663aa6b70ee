# The Cloud Functions (gen2, Node.js 22), one entry point each, from one
# source archive. Entry points match what functions/index.ts registers.
locals {
  functions = {
    planner = {
      entry_point   = "planExport"
      timeout       = 1800
      memory        = "1Gi"
      cpu           = null
      concurrency   = 1
      max_instances = 2
      ingress       = var.planner_ingress
      invoker       = "scheduler"
      trigger       = false
    }
    worker = {
      entry_point   = "exportBatch"
      timeout       = 600
      memory        = "2Gi"
      cpu           = null
      concurrency   = 1
      max_instances = var.worker_max_instances
      ingress       = "ALLOW_INTERNAL_ONLY"
      invoker       = "pusher"
      trigger       = false
    }
    # Fed every object-finalize event of the recordings bucket by Eventarc;
    # returns at once for anything but plans and batch reports, so one
    # instance takes many events at a time (which needs a whole vCPU).
    checker = {
      entry_point   = "checkDay"
      timeout       = 540
      memory        = "1Gi"
      cpu           = "1"
      concurrency   = var.checker_concurrency
      max_instances = 10
      ingress       = "ALLOW_INTERNAL_ONLY"
      invoker       = "eventarc"
      trigger       = true
    }
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions
  project  = var.project_id
  name     = "${local.prefix}${each.key}"
  location = var.region
  labels   = local.labels
  # The function's source, image and instances (kms.tf).
  kms_key_name = local.cmek ? var.kms_key : null
  build_config {
    runtime           = "nodejs22"
    entry_point       = each.value.entry_point
    service_account   = google_service_account.sa["build"].id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }
  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    service_account_email            = google_service_account.sa[each.key].email
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env
  }
  # At-least-once: a checker that throws (an email not sent yet) gets the event again.
  dynamic "event_trigger" {
    for_each = each.value.trigger ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.sa["eventarc"].email
      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.recordings.name
      }
    }
  }
  lifecycle {
    precondition {
      condition     = var.batch_deadline_ms <= (local.functions.worker.timeout - 60) * 1000
      error_message = "batch_deadline_ms must leave the worker a minute of its ${local.functions.worker.timeout} s timeout to write its metadata and report."
    }
    precondition {
      condition     = var.batch_poll_deadline_ms < var.batch_deadline_ms
      error_message = "batch_poll_deadline_ms must be below batch_deadline_ms (the worker checks it at startup too)."
    }
    precondition {
      condition     = var.max_batch_attempts < var.max_delivery_attempts
      error_message = "max_batch_attempts must be below max_delivery_attempts, or Pub/Sub dead-letters a batch before the worker reports it failed and the day can never be decided."
    }
  }
  depends_on = [
    time_sleep.build_grants,
    time_sleep.eventarc_agent,
    google_project_iam_member.eventarc_receiver,
    google_project_iam_member.gcs_pubsub,
    time_sleep.kms_grants,
    google_eventarc_google_channel_config.kms,
  ]
}

# Only Cloud Scheduler (and operator_members, see operators.tf) may call the
# planner, only Pub/Sub push the worker, only the Eventarc trigger's identity
# the checker.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.functions
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.sa[each.value.invoker].member
}
