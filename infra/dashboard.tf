# The Cloud Monitoring dashboard "genesys-recording-migrator (PREFIX)": days
# decided, what the workers exported, Genesys requests against the rate
# limit, batch durations, the batches backlog, dead letters, and the three
# functions' errors, instances and memory. Its layout is dashboard.json (the
# Monitoring API's own format, as the console exports it), rendered with the
# names of this deployment; infra/README.md says what each chart answers.
#
# The log-based metrics below count what the functions log:
#  - the worker logs {"event":"batch_reported","status":...,"seconds":...,
#    "totals":{"call":{"exported":...,"bytes":...},...}} for every batch report;
#  - the Genesys adapter (planner and worker) logs {"event":"genesys_request",
#    "clientIndex":N,"status":"200"|"429"|...} for every request answered;
#  - the checker logs {"event":"day_gaps","kind":...,"gaps":N} per kind of gap
#    of each decision.
# test/services/worker.spec.ts and checker.spec.ts run these filters and
# extractors over the functions' real log lines; test/repo/dashboard.spec.ts checks the dashboard
# against the Monitoring API's message definitions and every metric it charts.
locals {
  worker_logs      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.prefix}worker\""
  batches_reported = "${local.worker_logs} AND jsonPayload.event=\"batch_reported\""
  day_gaps         = "${local.checker_logs} AND jsonPayload.event=\"day_gaps\""
  genesys_requests = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(\"${local.prefix}planner\" OR \"${local.prefix}worker\") AND jsonPayload.event=\"genesys_request\""
  # functions/core/content-types.ts RECORDING_TYPES: one folder and one pair of metrics each.
  recording_types = ["call", "chat", "email", "message", "screen"]
  dashboard_json = templatefile("${path.module}/dashboard.json", {
    display_name             = "genesys-recording-migrator (${var.prefix})"
    prefix                   = local.prefix
    metric_prefix            = local.metric_prefix
    batches_subscription     = google_pubsub_subscription.worker.name
    dead_letter_subscription = google_pubsub_subscription.dead_letter_keep.name
    client_rate_limit        = var.genesys_client_requests_per_minute
  })
  # The dashboard's id is projects/NUMBER/dashboards/ID.
  dashboard_url = "https://console.cloud.google.com/monitoring/dashboards/builder/${element(split("/", google_monitoring_dashboard.main.id), 3)}?project=${var.project_id}"
}

# Seconds from a delivery's start to its batch report, by report status.
resource "google_logging_metric" "batch_seconds" {
  project     = var.project_id
  name        = "${local.metric_prefix}batch_seconds"
  description = "Seconds a worker delivery took, from its start to its batch report, by status (complete or failed)."
  filter      = local.batches_reported
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "complete or failed"
    }
  }
  value_extractor = "EXTRACT(jsonPayload.seconds)"
  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 14
      growth_factor      = 2
      scale              = 1
    }
  }
  depends_on = [google_project_service.apis]
}

# Recordings exported per batch report, one metric per recording type (a log
# line gives a metric one value: the type is in the metric's name).
resource "google_logging_metric" "exported_recordings" {
  for_each    = toset(local.recording_types)
  project     = var.project_id
  name        = "${local.metric_prefix}exported_${each.key}"
  description = "Recordings of type ${each.key} a batch report counts as exported."
  filter      = local.batches_reported
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }
  value_extractor = "EXTRACT(jsonPayload.totals.${each.key}.exported)"
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 12
      growth_factor      = 2
      scale              = 1
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "exported_bytes" {
  for_each    = toset(local.recording_types)
  project     = var.project_id
  name        = "${local.metric_prefix}exported_bytes_${each.key}"
  description = "Bytes of the recordings of type ${each.key} a batch report counts as exported."
  filter      = local.batches_reported
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "By"
  }
  value_extractor = "EXTRACT(jsonPayload.totals.${each.key}.bytes)"
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 4
      scale              = 1024
    }
  }
  depends_on = [google_project_service.apis]
}

# Genesys requests answered (or failed without an answer), per OAuth client and status.
resource "google_logging_metric" "genesys_requests" {
  project     = var.project_id
  name        = "${local.metric_prefix}genesys_requests"
  description = "Genesys API requests of the planner and the worker, by OAuth client (its index in the clients secret) and status (HTTP status, network or other)."
  filter      = local.genesys_requests
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "client"
      value_type  = "STRING"
      description = "the OAuth client's index in the clients secret"
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status, or network / other when no answer came"
    }
  }
  label_extractors = {
    client = "EXTRACT(jsonPayload.clientIndex)"
    status = "EXTRACT(jsonPayload.status)"
  }
  depends_on = [google_project_service.apis]
}

# Gaps of each decision of a day, by kind (functions/core/gap-kinds.ts): the
# checker logs {"event":"day_gaps","kind":...,"gaps":N} once per kind when it
# decides a day with gaps.
resource "google_logging_metric" "gaps" {
  project     = var.project_id
  name        = "${local.metric_prefix}gaps"
  description = "Gaps of a day's decision, by kind of gap (what fixes it)."
  filter      = local.day_gaps
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
    labels {
      key         = "kind"
      value_type  = "STRING"
      description = "the kind of gap: archived, uploading, source-error, batch-failed, transient, ..."
    }
  }
  value_extractor = "EXTRACT(jsonPayload.gaps)"
  label_extractors = {
    kind = "EXTRACT(jsonPayload.kind)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }
  depends_on = [google_project_service.apis]
}

resource "google_monitoring_dashboard" "main" {
  project        = var.project_id
  dashboard_json = local.dashboard_json
  # The charts of log-based metrics show data only once the metrics exist.
  depends_on = [
    google_project_service.apis,
    google_logging_metric.days_decided,
    google_logging_metric.batch_seconds,
    google_logging_metric.exported_recordings,
    google_logging_metric.exported_bytes,
    google_logging_metric.genesys_requests,
    google_logging_metric.gaps,
  ]
}
