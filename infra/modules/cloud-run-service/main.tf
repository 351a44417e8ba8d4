# One hourglass service on Cloud Run: the shared image, run as `node services/<service>/main.ts`
# under its own service account. Worker and checker pull from Pub/Sub, so they keep CPU between
# requests (cpu_idle = false) and never scale below min_instances. With iap, Identity-Aware Proxy
# stands in front of the service (the status console). With telemetry_sidecar, an
# OpenTelemetry Collector runs beside it (a second container): the service sends OTLP/HTTP to
# localhost:4318 and starts only once the collector's health check passes.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.0"
    }
  }
}

variable "project_id" {
  description = "Project of the service."
  type        = string
}

variable "region" {
  description = "Cloud Run region."
  type        = string
}

variable "name" {
  description = "Cloud Run service name (e.g. \"hourglass-worker\")."
  type        = string
}

variable "service" {
  description = "Which hourglass service the container runs (services/<service>/main.ts): gateway, worker, checker, console or table (the Iceberg table committer)."
  type        = string

  validation {
    condition     = contains(["gateway", "worker", "checker", "console", "table"], var.service)
    error_message = "service must be gateway, worker, checker, console or table."
  }
}

variable "image" {
  description = "Container image reference (REGION-docker.pkg.dev/PROJECT/REPO/hourglass:TAG)."
  type        = string
}

variable "service_account_email" {
  description = "Runtime identity of the service."
  type        = string
}

variable "public" {
  description = "Reachable from the internet with no IAM check on invocation (the app checks its own bearer tokens). false: internal ingress and IAM-checked invocation, granted to nobody."
  type        = bool
  default     = false
}

variable "iap" {
  description = "Identity-Aware Proxy in front of the service (Cloud Run's own integration, iap_enabled): all ingress, but a request reaches the service only once IAP let its user in (the caller grants roles/iap.httpsResourceAccessor) and then as IAP's service agent (the caller grants it roles/run.invoker on the service). Not with public."
  type        = bool
  default     = false

  validation {
    condition     = !(var.iap && var.public)
    error_message = "iap and public exclude each other: a public service has no IAM check for IAP's service agent to pass."
  }
}

variable "cpu_always" {
  description = "Keep CPU allocated outside requests (needed by Pub/Sub pull and background timers)."
  type        = bool
  default     = true
}

variable "min_instances" {
  description = "Instances kept running."
  type        = number
}

variable "max_instances" {
  description = "Upper bound on instances."
  type        = number
}

variable "cpu" {
  description = "vCPUs per instance (\"1\", \"2\", \"4\")."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance (\"512Mi\", \"1Gi\")."
  type        = string
  default     = "512Mi"
}

variable "env" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: name => secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "secret_files" {
  description = "Secret Manager secrets mounted as files, at version latest (each read returns the newest version): volume name => { secret id, directory, file name }."
  type = map(object({
    secret     = string
    mount_path = string
    file       = string
  }))
  default = {}
}

variable "probe_port" {
  description = "Port of HTTP startup and liveness probes on /health/live, when the service serves them apart from PORT (the gateway's ops port). null: probes on PORT."
  type        = number
  default     = null
}

variable "telemetry_sidecar" {
  description = "An OpenTelemetry Collector container beside the service, which receives OTLP/HTTP on localhost:4318 (the service gets OTEL_EXPORTER_OTLP_ENDPOINT and starts after the collector's health check on port 13133 passes): image, the Secret Manager secret and version holding its config.yaml (mounted at /etc/otelcol-google/), its CPU and memory limits, and the services' metric export interval. null: no sidecar, no OTLP export."
  type = object({
    image                     = string
    config_secret             = string
    config_version            = string
    cpu                       = optional(string, "1")
    memory                    = optional(string, "512Mi")
    metric_export_interval_ms = optional(number, 60000)
  })
  default = null
}

variable "deletion_protection" {
  description = "Refuse to delete the service."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels of the service."
  type        = map(string)
  default     = {}
}

locals {
  # The service's port (Cloud Run passes it as PORT). With a sidecar, Cloud Run needs the ingress
  # container to name its port, and only that container may have one.
  port = 8080

  # The collector: its OTLP/HTTP receiver and health check (the config the hourglass module renders
  # listens there), the container's name (the service's depends_on), and where its config is mounted.
  collector = {
    name        = "otel-collector"
    otlp_http   = "http://localhost:4318"
    health_port = 13133
    volume      = "otel-collector-config"
    config_dir  = "/etc/otelcol-google"
  }

  # OTEL_* first, so that var.env can override them.
  env = merge(
    var.telemetry_sidecar == null ? {} : {
      OTEL_EXPORTER_OTLP_ENDPOINT = local.collector.otlp_http
      OTEL_METRIC_EXPORT_INTERVAL = tostring(var.telemetry_sidecar.metric_export_interval_ms)
    },
    var.env,
  )
}

resource "google_cloud_run_v2_service" "this" {
  project  = var.project_id
  location = var.region
  name     = var.name
  labels   = merge(var.labels, { service = var.service })

  # From the internet: the public gateway, or a service behind IAP (IAP checks the user, then Cloud
  # Run's IAM check the IAP service agent). Anything else takes internal traffic only.
  ingress              = var.public || var.iap ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  invoker_iam_disabled = var.public
  iap_enabled          = var.iap
  deletion_protection  = var.deletion_protection

  template {
    service_account = var.service_account_email

    dynamic "volumes" {
      for_each = var.secret_files
      content {
        name = volumes.key
        secret {
          secret = volumes.value.secret
          items {
            version = "latest"
            path    = volumes.value.file
          }
        }
      }
    }

    # The collector's config.yaml, at the version the hourglass module wrote (a new config is a new
    # version, hence a new revision: the collector reads its config once, at start).
    dynamic "volumes" {
      for_each = var.telemetry_sidecar == null ? [] : [var.telemetry_sidecar]
      content {
        name = local.collector.volume
        secret {
          secret = volumes.value.config_secret
          items {
            version = volumes.value.config_version
            path    = "config.yaml"
          }
        }
      }
    }

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    # The service: the ingress container (the one with a port).
    containers {
      name       = var.service
      image      = var.image
      args       = ["services/${var.service}/main.ts"]
      depends_on = var.telemetry_sidecar == null ? null : [local.collector.name]

      ports {
        container_port = local.port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = !var.cpu_always
        startup_cpu_boost = true
      }

      # Cloud Run sets PORT; every service listens on it (the gateway for events, worker and
      # checker for health, the console for its page). Probes: HTTP /health/live on probe_port (the gateway's ops listener) or PORT.
      # Not /healthz: Cloud Run reserves some paths ending in "z" and recommends avoiding them.
      startup_probe {
        http_get {
          path = "/health/live"
          port = var.probe_port
        }
        period_seconds    = 2
        failure_threshold = 30
      }

      liveness_probe {
        http_get {
          path = "/health/live"
          port = var.probe_port
        }
        period_seconds    = 10
        failure_threshold = 3
      }

      dynamic "volume_mounts" {
        for_each = var.secret_files
        content {
          name       = volume_mounts.key
          mount_path = volume_mounts.value.mount_path
        }
      }

      dynamic "env" {
        for_each = local.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
    }

    # The OpenTelemetry Collector (Google's build): OTLP/HTTP in on localhost:4318, metrics out to
    # Managed Service for Prometheus and spans to Cloud Trace, as the service's account. No port:
    # it takes no traffic from outside the instance. Its health check (the config's health_check
    # extension) gates the service's start and restarts it when it hangs.
    dynamic "containers" {
      for_each = var.telemetry_sidecar == null ? [] : [var.telemetry_sidecar]
      content {
        name  = local.collector.name
        image = containers.value.image
        args  = ["--config=${local.collector.config_dir}/config.yaml"]

        resources {
          limits = {
            cpu    = containers.value.cpu
            memory = containers.value.memory
          }
          cpu_idle = !var.cpu_always # exports run on timers, between requests too
        }

        startup_probe {
          http_get {
            path = "/"
            port = local.collector.health_port
          }
          period_seconds    = 2
          failure_threshold = 30
        }

        liveness_probe {
          http_get {
            path = "/"
            port = local.collector.health_port
          }
          period_seconds    = 10
          failure_threshold = 3
        }

        volume_mounts {
          name       = local.collector.volume
          mount_path = local.collector.config_dir
        }
      }
    }
  }
}

output "uri" {
  description = "The service's https URL."
  value       = google_cloud_run_v2_service.this.uri
}

output "name" {
  description = "The Cloud Run service name."
  value       = google_cloud_run_v2_service.this.name
}
