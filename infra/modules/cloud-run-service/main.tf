# One hourglass service on Cloud Run: the shared image, run as `node services/<service>/main.ts`
# under its own service account. Worker and checker pull from Pub/Sub, so they keep CPU between
# requests (cpu_idle = false) and never scale below min_instances.

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
  description = "Which hourglass service the container runs: gateway, worker or checker."
  type        = string

  validation {
    condition     = contains(["gateway", "worker", "checker"], var.service)
    error_message = "service must be gateway, worker or checker."
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

resource "google_cloud_run_v2_service" "this" {
  project  = var.project_id
  location = var.region
  name     = var.name
  labels   = merge(var.labels, { service = var.service })

  ingress              = var.public ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  invoker_iam_disabled = var.public
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

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image
      args  = ["services/${var.service}/main.ts"]

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = !var.cpu_always
        startup_cpu_boost = true
      }

      # Cloud Run sets PORT; every service listens on it (the gateway for events, worker and
      # checker for health). Probes: HTTP /health/live on probe_port (the gateway's ops listener) or PORT.
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
        for_each = var.env
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
