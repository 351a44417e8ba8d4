# One Cloud Monitoring dashboard per deployment: timeliness per tier (close delay p50 and p99 by type,
# against the tier's target), windows still open, loss (lost, abandoned and late events), throughput
# (events accepted by the gateway, staged by the worker, closed by the checker), backlog (the oldest
# unacked message of every worker subscription) and dead letters (the worker's and Pub/Sub's).
# The hourglass charts read the services' OpenTelemetry metrics (telemetry.tf), so they stay empty
# without telemetry_sidecar; the Pub/Sub ones read Pub/Sub's own metrics.

locals {
  # The types of each tier that has some, for the timeliness charts.
  tier_types = { for tier in sort(distinct([for c in values(local.types) : c.tier])) : tier => sort([for t, c in local.types : t if c.tier == tier]) }

  worker_subscriptions = "one_of(${join(", ", formatlist("\"%s\"", sort(values(local.worker_subscription_name))))})"

  # Monitoring's template for a series' type label ("$${" is a literal "${" for Terraform).
  by_type = "$${metric.labels.type}"

  # The close delay's percentiles on the timeliness charts.
  close_delay_percentiles = { p50 = "REDUCE_PERCENTILE_50", p99 = "REDUCE_PERCENTILE_99" }

  # Aggregations of the charts.
  chart = {
    delta_by_type = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.type"] }
    rate_total    = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM" }
  }

  dashboard_widgets = concat(
    [
      for tier, types in local.tier_types : {
        title = "Close delay, ${tier} tier (target ${var.tiers[tier].close_target_s} s): p50 and p99 by type"
        xyChart = {
          dataSets = [
            for p, reducer in local.close_delay_percentiles : {
              plotType       = "LINE"
              legendTemplate = "${p} ${local.by_type}"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter      = "${local.otel_filter.close_delay} AND metric.labels.type = one_of(${join(", ", formatlist("\"%s\"", types))})"
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = reducer, groupByFields = ["metric.label.type"] }
                }
              }
            }
          ]
          thresholds = [{ value = var.tiers[tier].close_target_s, label = "close target" }]
          yAxis      = { label = "s", scale = "LINEAR" }
        }
      }
    ],
    [
      {
        title = "Oldest window still open, by type (from its start)"
        xyChart = {
          dataSets = [{
            plotType       = "LINE"
            legendTemplate = local.by_type
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter      = local.otel_filter.oldest_open_window_age
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MIN", crossSeriesReducer = "REDUCE_MIN", groupByFields = ["metric.label.type"] }
              }
            }
          }]
          yAxis = { label = "s", scale = "LINEAR" }
        }
      },
      {
        title = "Loss: events lost, abandoned and late, per 5 min by type"
        xyChart = {
          dataSets = [
            for m in ["events_lost", "events_abandoned", "events_late"] : {
              plotType        = "STACKED_BAR"
              legendTemplate  = "${trimprefix(m, "events_")} ${local.by_type}"
              timeSeriesQuery = { timeSeriesFilter = { filter = local.otel_filter[m], aggregation = local.chart.delta_by_type } }
            }
          ]
          yAxis = { label = "events", scale = "LINEAR" }
        }
      },
      {
        title = "Throughput: events accepted (gateway), staged (worker), closed (checker)"
        xyChart = {
          dataSets = [
            for m in ["events_accepted", "events_staged", "events_closed"] : {
              plotType        = "LINE"
              legendTemplate  = trimprefix(m, "events_")
              timeSeriesQuery = { timeSeriesFilter = { filter = local.otel_filter[m], aggregation = local.chart.rate_total } }
            }
          ]
          yAxis = { label = "events/s", scale = "LINEAR" }
        }
      },
      {
        title = "Backlog: oldest unacked message of the worker subscriptions"
        xyChart = {
          dataSets = [{
            plotType       = "LINE"
            legendTemplate = "$${resource.labels.subscription_id}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter      = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = ${local.worker_subscriptions}"
                aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.subscription_id"] }
              }
            }
          }]
          yAxis = { label = "s", scale = "LINEAR" }
        }
      },
      {
        title = "Dead letters: written by the worker (by type and reason), forwarded by Pub/Sub (by subscription), per 5 min"
        xyChart = {
          dataSets = [
            {
              plotType       = "STACKED_BAR"
              legendTemplate = "worker ${local.by_type} $${metric.labels.reason}"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter      = local.otel_filter.messages_dead_lettered
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.type", "metric.label.reason"] }
                }
              }
            },
            {
              plotType       = "STACKED_BAR"
              legendTemplate = "pubsub $${resource.labels.subscription_id}"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter      = "metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = ${local.worker_subscriptions}"
                  aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.subscription_id"] }
                }
              }
            },
          ]
          yAxis = { label = "messages", scale = "LINEAR" }
        }
      },
    ],
  )
}

resource "google_monitoring_dashboard" "hourglass" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "hourglass (${var.name})"
    mosaicLayout = {
      columns = 48
      tiles = [
        for i, w in local.dashboard_widgets : { xPos = (i % 2) * 24, yPos = floor(i / 2) * 16, width = 24, height = 16, widget = w }
      ]
    }
  })

  depends_on = [google_project_service.api]
}
