# Telemetry that arrives: with telemetry_sidecar, every Cloud Run service runs Google's build of the
# OpenTelemetry Collector beside it (../cloud-run-service). The service sends OTLP/HTTP to
# localhost:4318 (OTEL_EXPORTER_OTLP_ENDPOINT, services/telemetry/telemetry.ts); the collector sends
# metrics to Managed Service for Prometheus (exporter googlemanagedprometheus) and spans to Cloud
# Trace (exporter googlecloud), as the service's own account (roles in iam.tf). Its config is the
# YAML below, kept in a Secret Manager secret because Cloud Run mounts files from secrets (nothing in
# it is secret), at a pinned version: a changed config is a new version and so a new revision.
#
# How a metric is named in Cloud Monitoring (the googlemanagedprometheus exporter, add_metric_suffixes
# on by default; test/infra/otel-metrics.ts implements the rule and checks every name below against
# the instruments the services create):
#   prometheus.googleapis.com/<name>/<kind>, <name> = the instrument's name with every run of
#   characters other than [a-zA-Z0-9:] as one "_", then its unit's word ("s" -> _seconds,
#   "ms" -> _milliseconds, "By" -> _bytes; "1" and none add nothing), then _total for a counter,
#   or _ratio for a gauge of unit "1"; <kind> = counter (monotonic sum), gauge (gauge, or up-down
#   counter) or histogram.
#   hourglass.checker.close.delay (histogram, s) -> prometheus.googleapis.com/hourglass_checker_close_delay_seconds/histogram
# Its resource is prometheus_target: namespace = var.name (set below, so two deployments in one
# project stay apart), job = the service.name the SDK sets ("hourglass-<service>"), instance = the
# Cloud Run instance, location = the region, cluster = "__run__". Attributes are metric labels.

locals {
  # The instruments the alerts and the dashboard read: the service whose code creates it, and its
  # metric type. The OTel instrument names are in the comments.
  otel_metric = {
    close_delay            = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_close_delay_seconds/histogram" }        # hourglass.checker.close.delay, s
    oldest_open_window_age = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_oldest_open_window_age_seconds/gauge" } # hourglass.checker.oldest_open_window.age, s
    events_closed          = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_events_closed_total/counter" }          # hourglass.checker.events.closed
    events_lost            = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_events_lost_total/counter" }            # hourglass.checker.events.lost
    events_abandoned       = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_events_abandoned_total/counter" }       # hourglass.checker.events.abandoned
    events_late            = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_events_late_total/counter" }            # hourglass.checker.events.late
    windows_closed         = { service = "checker", type = "prometheus.googleapis.com/hourglass_checker_windows_closed_total/counter" }         # hourglass.checker.windows.closed
    events_accepted        = { service = "gateway", type = "prometheus.googleapis.com/hourglass_gateway_events_accepted_total/counter" }        # hourglass.gateway.events.accepted
    events_staged          = { service = "worker", type = "prometheus.googleapis.com/hourglass_worker_events_staged_total/counter" }            # hourglass.worker.events_staged
    messages_dead_lettered = { service = "worker", type = "prometheus.googleapis.com/hourglass_worker_messages_dead_lettered_total/counter" }   # hourglass.worker.messages_dead_lettered
  }

  # A monitoring filter per metric: its type, from this deployment's service that produces it.
  otel_filter = { for k, m in local.otel_metric : k => "metric.type = \"${m.type}\" AND resource.type = \"prometheus_target\" AND resource.labels.namespace = \"${var.name}\" AND resource.labels.job = \"hourglass-${m.service}\"" }

  # The collector's config (Google's documented Cloud Run setup, trimmed to what the services send).
  collector_config = {
    receivers = {
      otlp = { protocols = { http = { endpoint = "localhost:4318" } } }
    }
    processors = {
      memory_limiter    = { check_interval = "1s", limit_percentage = 65, spike_limit_percentage = 20 }
      resourcedetection = { detectors = ["gcp"], timeout = "10s" }
      # The prometheus_target's namespace label: this deployment.
      "resource/deployment" = { attributes = [{ key = "namespace", value = var.name, action = "upsert" }] }
      batch                 = { send_batch_size = 200, send_batch_max_size = 200, timeout = "5s" }
    }
    exporters = {
      googlemanagedprometheus = {}
      googlecloud             = {}
    }
    # Cloud Run's startup and liveness probes of the sidecar call it (../cloud-run-service).
    extensions = {
      health_check = { endpoint = "0.0.0.0:13133" }
    }
    service = {
      extensions = ["health_check"]
      pipelines = {
        metrics = { receivers = ["otlp"], processors = ["memory_limiter", "resourcedetection", "resource/deployment", "batch"], exporters = ["googlemanagedprometheus"] }
        traces  = { receivers = ["otlp"], processors = ["memory_limiter", "resourcedetection", "batch"], exporters = ["googlecloud"] }
      }
    }
  }
}

resource "google_secret_manager_secret" "collector_config" {
  count = var.telemetry_sidecar ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name}-otel-collector-config"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_version" "collector_config" {
  count = var.telemetry_sidecar ? 1 : 0

  secret      = google_secret_manager_secret.collector_config[0].id
  secret_data = yamlencode(local.collector_config)

  # The services mount this exact version: a new one must exist before they move to it.
  lifecycle {
    create_before_destroy = true
  }
}
