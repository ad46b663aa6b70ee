# Alerts in Cloud Monitoring: a day decided _FAILURE, no day decided for 36 h
# (a missed night), batches in the dead-letter subscription, failing function
# requests, and failed Cloud Scheduler attempts. They go to the channels in
# notification_channels plus one email channel per alert_emails entry.
#
# The log filters match what the functions log: the checker logs
# {"event":"day_decided","status":"success"|"failure","day":...} for every
# decision. test/services/checker.spec.ts runs these filters over the
# checker's real log lines.
locals {
  metric_prefix    = replace(local.prefix, "-", "_")
  checker_logs     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.prefix}checker\""
  days_decided     = "${local.checker_logs} AND jsonPayload.event=\"day_decided\""
  day_failed       = "${local.days_decided} AND jsonPayload.status=\"failure\""
  scheduler_failed = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id=\"${local.prefix}nightly-export\" AND severity>=ERROR"
  alert_channels = concat(
    var.notification_channels,
    [for c in google_monitoring_notification_channel.email : c.id],
  )
  alert_docs = "See infra/README.md, \"When an alert fires\", and the dashboard: ${local.dashboard_url} . Bucket gs://${var.bucket_name}/${var.export_env}/, project ${var.project_id}."
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.alert_emails)
  project      = var.project_id
  display_name = "genesys-recording-migrator alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = local.labels
  depends_on  = [google_project_service.apis]
}

resource "google_logging_metric" "days_decided" {
  project     = var.project_id
  name        = "${local.metric_prefix}days_decided"
  description = "Days the checker decided (wrote _SUCCESS or _FAILURE), by status."
  filter      = local.days_decided
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "success or failure"
    }
  }
  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
  }
  depends_on = [google_project_service.apis]
}

# Fires once per decided _FAILURE with the day in the incident.
resource "google_monitoring_alert_policy" "day_failed" {
  project               = var.project_id
  display_name          = "${local.prefix}day decided _FAILURE"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = local.labels
  conditions {
    display_name = "a day was decided _FAILURE"
    condition_matched_log {
      filter = local.day_failed
      label_extractors = {
        day    = "EXTRACT(jsonPayload.day)"
        run_id = "EXTRACT(jsonPayload.runId)"
      }
    }
  }
  alert_strategy {
    auto_close = "604800s"
    notification_rate_limit {
      period = "300s"
    }
  }
  lifecycle {
    precondition {
      condition     = length(local.alert_channels) > 0
      error_message = "Set alert_emails or notification_channels: otherwise every alert fires to nobody."
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A day is incomplete: gs://${var.bucket_name}/${var.export_env}/DAY/_FAILURE lists every gap and the replay commands, and the developers got an email. ${local.alert_docs}"
  }
  depends_on = [google_project_service.apis]
}

# A night that never decides (the scheduler did not run, the planner failed,
# a batch never reported) writes no decision: alert when none came for 36 h.
# It also fires on a fresh deployment until the first night is decided.
resource "google_monitoring_alert_policy" "no_day_decided" {
  project               = var.project_id
  display_name          = "${local.prefix}no day decided for 36 h"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = local.labels
  conditions {
    display_name = "no _SUCCESS or _FAILURE decision in 36 h"
    condition_prometheus_query_language {
      query               = "sum(increase(logging_googleapis_com:user_${google_logging_metric.days_decided.name}[36h])) < 1 or on() absent_over_time(logging_googleapis_com:user_${google_logging_metric.days_decided.name}[36h])"
      duration            = "0s"
      evaluation_interval = "300s"
      # Monitoring sees a new log-based metric only minutes after it is
      # created, and would refuse a condition on a metric it does not know
      # yet: the check is skipped instead of waiting for it.
      disable_metric_validation = true
    }
  }
  alert_strategy {
    auto_close = "86400s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "No day was decided for 36 h. Check the Cloud Scheduler job ${local.prefix}nightly-export, then the planner's and the worker's logs. ${local.alert_docs}"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${local.prefix}batches in the dead-letter subscription"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = local.labels
  conditions {
    display_name = "undelivered messages in ${google_pubsub_subscription.dead_letter_keep.name}"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter_keep.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  alert_strategy {
    auto_close = "604800s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A batch message kept failing and was dead-lettered. Read it with `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter_keep.name} --project=${var.project_id} --limit=10` and replay it once the cause is fixed. ${local.alert_docs}"
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "${local.prefix}function requests failing"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = local.labels
  conditions {
    display_name = "more than ${var.function_error_threshold} failed requests in 10 minutes"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=one_of(\"${local.prefix}planner\", \"${local.prefix}worker\", \"${local.prefix}checker\") AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_error_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
  alert_strategy {
    auto_close = "86400s"
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A function keeps answering 5xx: read its ERROR log lines (severity>=ERROR, resource.labels.service_name). ${local.alert_docs}"
  }
  depends_on = [google_project_service.apis]
}

# A log-match alert, not a metric: an alert on a log-based metric created in
# the same apply is refused until the metric is visible to Monitoring.
resource "google_monitoring_alert_policy" "scheduler_failed" {
  project               = var.project_id
  display_name          = "${local.prefix}nightly scheduler attempt failed"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = local.labels
  conditions {
    display_name = "a ${local.prefix}nightly-export attempt failed"
    condition_matched_log {
      filter = local.scheduler_failed
    }
  }
  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "3600s"
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "Cloud Scheduler could not run the planner (it retries 3 times). Check the job's logs and the planner's answer; rerun the night with the planner once fixed. ${local.alert_docs}"
  }
  depends_on = [google_project_service.apis]
}
