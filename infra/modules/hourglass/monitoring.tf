# Alerts: a backlog on any subscription, a window not closed within its tier's target, staging older
# than its type's max wait (nothing deletes unproven staging by age), and any lost event; with
# telemetry_sidecar also late events, the worker's dead letters, and a type whose windows stopped
# closing while its events arrive. Those, the close delay and the lost events read the services'
# OpenTelemetry metrics (telemetry.tf: local.otel_filter; naming rule there). Without the sidecar the
# close-delay and loss conditions read the line the checker logs for every window it closes
# (Cloud Run turns a JSON line on stdout into jsonPayload; the fields are the closed manifest's):
#   {"severity":"INFO","code":"HG_WINDOW_CLOSED","type":"track_played","window":…,"status":"complete",
#    "closeDelayMs":4200,"lostEvents":0,…}
# closeDelayMs: from the window's end to its _SUCCESS. A window with no events gets no partition, so
# "no close for a while" is no alarm (a quiet type closes nothing); instead the checker logs
#   {"severity":"WARNING","code":"HG_WINDOW_OVERDUE","type":…,"window":…,"waitingOn":[…]}
# once for a window still open past its end plus the liveness timeout: it waits on a gap. And once a
# minute, per type whose oldest staged file's window has ended (the gauge staging.unclosed_age, which
# Cloud Run does not export to Cloud Monitoring itself; services/checker/staging-age-report.ts):
#   {"severity":"WARNING","code":"HG_STAGING_AGE","type":…,"window":…,"oldestUnclosedStagingS":1260,
#    "maxWaitS":900,"overMaxWaitS":360}

locals {
  closed_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.name}-checker\" AND jsonPayload.code=\"${var.checker_closed_log_code}\""

  overdue_logs         = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.name}-checker\" AND jsonPayload.code=\"${var.checker_overdue_log_code}\""
  staging_age_logs     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.name}-checker\" AND jsonPayload.code=\"${var.checker_staging_age_log_code}\""
  close_delay_metric   = "logging.googleapis.com/user/${google_logging_metric.window_close_delay.name}"
  overdue_metric       = "logging.googleapis.com/user/${google_logging_metric.window_overdue.name}"
  events_lost_metric   = "logging.googleapis.com/user/${google_logging_metric.events_lost.name}"
  stale_staging_metric = "logging.googleapis.com/user/${google_logging_metric.stale_staging.name}"

  severity = { high = "CRITICAL", normal = "ERROR", low = "WARNING" }

  # Lost events: the checker's counter with the sidecar, else its log lines with lostEvents > 0.
  events_lost_filter = var.telemetry_sidecar ? local.otel_filter.events_lost : "metric.type = \"${local.events_lost_metric}\" AND resource.type = \"cloud_run_revision\""

  # A window closes by its type's max wait after its end at the latest (incomplete if it must): one
  # still open a window length, the max wait and the margin after its start is stuck.
  stalled_window_age_s = { for t, c in local.types : t => var.window_s + c.maxWaitS + var.staging_age_margin_s }
  # "Events arrive": some were staged within the last window length (at least a minute).
  arrival_period_s = max(60, var.window_s)
}

resource "google_logging_metric" "window_close_delay" {
  project = var.project_id
  name    = "${var.name}/window_close_delay"
  filter  = local.closed_logs

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "hourglass window close delay"
    labels {
      key         = "type"
      value_type  = "STRING"
      description = "Event type."
    }
  }
  value_extractor  = "EXTRACT(jsonPayload.closeDelayMs)"
  label_extractors = { type = "EXTRACT(jsonPayload.type)" }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 100 # ms: 0.1 s .. ~2 weeks
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "window_overdue" {
  project = var.project_id
  name    = "${var.name}/window_overdue"
  filter  = local.overdue_logs

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "hourglass windows still open past their end plus the liveness timeout"
    labels {
      key         = "type"
      value_type  = "STRING"
      description = "Event type."
    }
  }
  label_extractors = { type = "EXTRACT(jsonPayload.type)" }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "events_lost" {
  project = var.project_id
  name    = "${var.name}/events_lost"
  filter  = "${local.closed_logs} AND jsonPayload.lostEvents > 0"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "hourglass windows closed with lost events"
    labels {
      key         = "type"
      value_type  = "STRING"
      description = "Event type."
    }
  }
  label_extractors = { type = "EXTRACT(jsonPayload.type)" }

  depends_on = [google_project_service.api]
}

# Staging past its type's max wait plus the margin: the checker's once-a-minute line, counted when over.
resource "google_logging_metric" "stale_staging" {
  project = var.project_id
  name    = "${var.name}/stale_staging"
  filter  = "${local.staging_age_logs} AND jsonPayload.overMaxWaitS > ${var.staging_age_margin_s}"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "hourglass checker reports of staging older than its type's max wait"
    labels {
      key         = "type"
      value_type  = "STRING"
      description = "Event type."
    }
  }
  label_extractors = { type = "EXTRACT(jsonPayload.type)" }

  depends_on = [google_project_service.api]
}

# Per type: staged events (acknowledged, not yet in a closed window) waiting past the type's max wait.
# A window closes by its max wait at the latest, as incomplete if it must; staging older than that is
# stuck (the checker cannot close it, or cannot read a staged file), and nothing deletes it by age.
resource "google_monitoring_alert_policy" "staging_age" {
  for_each = local.types

  project               = var.project_id
  display_name          = "hourglass ${each.key}: staging older than its max wait"
  combiner              = "OR"
  severity              = local.severity[each.value.tier]
  notification_channels = var.notification_channels
  user_labels           = { app = var.name, event_type = each.key, tier = each.value.tier }

  conditions {
    display_name = "${each.key}: staged events still unclosed ${each.value.maxWaitS + var.staging_age_margin_s} s after their window's end"
    condition_threshold {
      filter          = "metric.type = \"${local.stale_staging_metric}\" AND resource.type = \"cloud_run_revision\" AND metric.labels.type = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_DELTA"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Events of `${each.key}` staged under `gs://${local.bucket_name}/staging/${each.key}/` have waited more than maxWaitS = ${each.value.maxWaitS} s (plus ${var.staging_age_margin_s} s) past their window's end without being closed or moved to `late/`.
      They were acknowledged to their producers and are in no closed window yet; nothing deletes them by age.
      The checker's lines with code `${var.checker_staging_age_log_code}` name the oldest window; its `checker_round_failed` lines say why it cannot close (a storage error, an unreadable staging manifest).
      See docs/deploy.md, "Where to look".
    EOT
  }
}

# Per type: backlog on its worker subscription, messages dead-lettered, backlog on its archive.
resource "google_monitoring_alert_policy" "delivery" {
  for_each = local.types

  project               = var.project_id
  display_name          = "hourglass ${each.key}: delivery backlog"
  combiner              = "OR"
  severity              = local.severity[each.value.tier]
  notification_channels = var.notification_channels
  user_labels           = { app = var.name, event_type = each.key, tier = each.value.tier }

  conditions {
    display_name = "${google_pubsub_subscription.worker[each.key].name}: oldest unacked message older than ${var.tiers[each.value.tier].oldest_unacked_s} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.worker[each.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.tiers[each.value.tier].oldest_unacked_s
      duration        = "120s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  conditions {
    display_name = "${google_pubsub_subscription.worker[each.key].name}: messages dead-lettered"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.worker[each.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  conditions {
    display_name = "${google_pubsub_subscription.dead_archive[each.key].name}: oldest unacked message older than ${var.deadletter_oldest_unacked_s} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_archive[each.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.deadletter_oldest_unacked_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Events of type `${each.key}` (tier ${each.value.tier}, owner ${each.value.owner}) are not leaving Pub/Sub.
      A backlog on `${google_pubsub_subscription.worker[each.key].name}`: is the `${var.name}-worker` service running, and can it write `gs://${local.bucket_name}/staging/`?
      Dead-lettered messages failed ${var.subscription.max_delivery_attempts} deliveries; they are archived under `deadletter/${each.key}/undeliverable/`.
      See docs/deploy.md, "Where to look".
    EOT
  }
}

resource "google_monitoring_alert_policy" "control_backlog" {
  project               = var.project_id
  display_name          = "hourglass: heartbeat backlog"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = { app = var.name }

  conditions {
    display_name = "${google_pubsub_subscription.control_checker.name}: oldest unacked message older than ${var.control_oldest_unacked_s} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.control_checker.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.control_oldest_unacked_s
      duration        = "120s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The checker is not reading heartbeats: no window can close. Is the `${var.name}-checker` service running? Its logs are in Cloud Logging (resource Cloud Run Revision, service ${var.name}-checker)."
  }
}

# Per type: a window closed later than its tier's target, or no window closed for that long.
resource "google_monitoring_alert_policy" "window_close" {
  for_each = local.types

  project               = var.project_id
  display_name          = "hourglass ${each.key}: window not closed within ${var.tiers[each.value.tier].close_target_s} s"
  combiner              = "OR"
  severity              = local.severity[each.value.tier]
  notification_channels = var.notification_channels
  user_labels           = { app = var.name, event_type = each.key, tier = each.value.tier }

  # The close delay against the tier's target: the checker's histogram hourglass.checker.close.delay
  # (s) with the sidecar, else the log-based metric (ms).
  dynamic "conditions" {
    for_each = var.telemetry_sidecar ? [1] : []
    content {
      display_name = "${each.key}: a window closed more than ${var.tiers[each.value.tier].close_target_s} s after its end (p99 of hourglass.checker.close.delay)"
      condition_threshold {
        filter          = "${local.otel_filter.close_delay} AND metric.labels.type = \"${each.key}\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.tiers[each.value.tier].close_target_s # the metric is in s
        duration        = "0s"
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = "ALIGN_DELTA"
          cross_series_reducer = "REDUCE_PERCENTILE_99"
          group_by_fields      = ["metric.label.type"]
        }
      }
    }
  }

  dynamic "conditions" {
    for_each = var.telemetry_sidecar ? [] : [1]
    content {
      display_name = "${each.key}: a window closed more than ${var.tiers[each.value.tier].close_target_s} s after its end"
      condition_threshold {
        filter          = "metric.type = \"${local.close_delay_metric}\" AND resource.type = \"cloud_run_revision\" AND metric.labels.type = \"${each.key}\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.tiers[each.value.tier].close_target_s * 1000 # the metric is in ms
        duration        = "0s"
        aggregations {
          alignment_period   = "300s"
          per_series_aligner = "ALIGN_PERCENTILE_99"
        }
      }
    }
  }

  conditions {
    display_name = "${each.key}: a window is still open past its end plus the liveness timeout (waiting on a gap)"
    condition_threshold {
      filter          = "metric.type = \"${local.overdue_metric}\" AND resource.type = \"cloud_run_revision\" AND metric.labels.type = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_DELTA"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Windows of `${each.key}` (tier ${each.value.tier}) are not closing within ${var.tiers[each.value.tier].close_target_s} s of their end.
      A window waits for its publishers' heartbeats, up to maxWaitS = ${each.value.maxWaitS} s, then closes incomplete.
      Look at the `${var.name}-checker` logs, and at `gs://${local.bucket_name}/staging/${each.key}/` for windows still open.
    EOT
  }
}

resource "google_monitoring_alert_policy" "events_lost" {
  project               = var.project_id
  display_name          = "hourglass: events lost"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = { app = var.name }

  conditions {
    display_name = "the checker reported acknowledged events missing from a closed window"
    condition_threshold {
      filter          = local.events_lost_filter
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.type"]
      }
    }
  }

  alert_strategy {
    auto_close = "604800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Events that Pub/Sub acknowledged to their producer are missing from a closed window: a broken promise.
      The window's `_MANIFEST.json` under `gs://${local.bucket_name}/<type>/dt=…/hour=…/` lists the missing ranges per publisher;
      the checker's log line (code ${var.checker_closed_log_code}, lostEvents > 0) names the type and window.
    EOT
  }
}

# --- On the services' OpenTelemetry metrics (telemetry_sidecar) ------------------------------------

# Per type: its windows stopped closing while its events arrive. The checker's gauge
# hourglass.checker.oldest_open_window.age (s, from the window's start) past a window length, the
# type's max wait and the margin, while the worker staged events of the type within the last window
# length (hourglass.worker.events_staged).
resource "google_monitoring_alert_policy" "windows_stalled" {
  for_each = var.telemetry_sidecar ? local.types : {}

  project               = var.project_id
  display_name          = "hourglass ${each.key}: windows stopped closing"
  combiner              = "AND"
  severity              = local.severity[each.value.tier]
  notification_channels = var.notification_channels
  user_labels           = { app = var.name, event_type = each.key, tier = each.value.tier }

  conditions {
    display_name = "${each.key}: a window still open ${local.stalled_window_age_s[each.key]} s after its start"
    condition_threshold {
      filter          = "${local.otel_filter.oldest_open_window_age} AND metric.labels.type = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.stalled_window_age_s[each.key]
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MIN"
        cross_series_reducer = "REDUCE_MIN" # the checker replicas agree once any of them closed it
        group_by_fields      = ["metric.label.type"]
      }
    }
  }

  conditions {
    display_name = "${each.key}: events staged within the last ${local.arrival_period_s} s"
    condition_threshold {
      filter          = "${local.otel_filter.events_staged} AND metric.labels.type = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.arrival_period_s}s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.type"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Events of `${each.key}` (tier ${each.value.tier}) keep arriving, but a window of theirs has been open for more than ${local.stalled_window_age_s[each.key]} s:
      a window length (${var.window_s} s), the type's maxWaitS (${each.value.maxWaitS} s) and ${var.staging_age_margin_s} s. By then it must have closed, incomplete if need be.
      The `${var.name}-checker` logs say why (`checker_round_failed`: a storage error, an unreadable staging manifest); `gs://${local.bucket_name}/staging/${each.key}/` holds what waits.
      See docs/deploy.md, "Where to look".
    EOT
  }
}

# Events that arrived after their window closed: kept under late/, missing from the closed hour.
resource "google_monitoring_alert_policy" "late_events" {
  count = var.telemetry_sidecar ? 1 : 0

  project               = var.project_id
  display_name          = "hourglass: late events"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = var.name }

  conditions {
    display_name = "more than ${var.late_events_threshold} events of a type arrived after their window closed, within an hour (hourglass.checker.events.late)"
    condition_threshold {
      filter          = local.otel_filter.events_late
      comparison      = "COMPARISON_GT"
      threshold_value = var.late_events_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.type"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Events came after their window had closed: the checker moved them to `gs://${local.bucket_name}/late/<type>/…`, and readers of the closed hours (BigQuery) do not see them.
      A producer whose clock or retries run far behind, or windows closing before their publishers' heartbeats (a publisher that stopped sending them).
    EOT
  }
}

# Messages the worker wrote to the dead-letter area itself (not a type's events, or not decodable),
# by type and reason. Pub/Sub's own dead-lettering (after max_delivery_attempts) is in "delivery".
resource "google_monitoring_alert_policy" "worker_dead_letters" {
  count = var.telemetry_sidecar ? 1 : 0

  project               = var.project_id
  display_name          = "hourglass: worker dead letters"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = { app = var.name }

  conditions {
    display_name = "the worker dead-lettered messages (hourglass.worker.messages_dead_lettered)"
    condition_threshold {
      filter          = local.otel_filter.messages_dead_lettered
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.type", "metric.label.reason"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The worker wrote messages to `gs://${local.bucket_name}/deadletter/<type>/` instead of staging them (the incident names the type and the reason).
      They were acknowledged to their producer: events to look at and redrive, kept until removed by hand. See docs/deploy.md, "Where to look".
    EOT
  }
}
