# The services: one image in Artifact Registry, three Cloud Run services (gateway public behind its
# per-client keys; worker and checker internal), and the secret holding the gateway's keys document.
# Nothing runs until var.image_tag names a pushed image (docs/deploy.md, step 5).

resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "hourglass container images (one image, an entrypoint per service)."
  labels        = local.labels

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "7776000s" # 90 days
    }
  }

  depends_on = [google_project_service.api]
}

# The keys document (clients, their keys, types and quotas: services/gateway/client-keys.ts) is never
# in Terraform (or its state): add it as a secret version with gcloud (docs/deploy.md). The gateway
# mounts it as a file at version "latest" and re-reads it every few seconds, so a new version (a key
# added or revoked) takes effect without a new revision.
resource "google_secret_manager_secret" "gateway_keys" {
  project   = var.project_id
  secret_id = "${var.name}-gateway-keys"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

locals {
  image = var.image_tag == null ? null : "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/hourglass:${var.image_tag}"

  service_env = {
    HOURGLASS_MODE         = "cloud" # authentication on, bind every interface
    HOURGLASS_PROJECT      = var.project_id
    HOURGLASS_BUCKET       = "gs://${google_storage_bucket.events.name}"
    HOURGLASS_WINDOW_S     = tostring(var.window_s)
    HOURGLASS_TOPIC_PREFIX = var.topic_prefix
  }

  # Where the gateway's keys secret is mounted, and the port of its probes and /metrics.
  gateway_keys_dir = "/secrets/gateway-keys"
  gateway_ops_port = 8081

  service_accounts = {
    gateway = google_service_account.gateway.email
    worker  = google_service_account.worker.email
    checker = google_service_account.checker.email
  }
}

module "service" {
  source   = "../cloud-run-service"
  for_each = var.image_tag == null ? {} : local.service_accounts

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name}-${each.key}"
  service               = each.key
  image                 = local.image
  service_account_email = each.value
  public                = each.key == "gateway"
  cpu_always            = true # the gateway's SDK batches and heartbeats on timers, between requests too
  min_instances         = var.services[each.key].min_instances
  max_instances         = var.services[each.key].max_instances
  cpu                   = var.services[each.key].cpu
  memory                = var.services[each.key].memory
  # The gateway reads its keys from the mounted secret, and serves its probes on its ops port (not its
  # public one); worker and checker serve them on PORT.
  env = (each.key == "gateway" ? merge(local.service_env, { HOURGLASS_GATEWAY_KEYS_FILE = "${local.gateway_keys_dir}/keys.json", HOURGLASS_OPS_PORT = tostring(local.gateway_ops_port) })
    : each.key == "checker" ? merge(local.service_env, { HOURGLASS_CHECKER_NOTICE_SLOTS = tostring(local.notice_slots) })
  : local.service_env)
  secret_files        = each.key == "gateway" ? { "gateway-keys" = { secret = google_secret_manager_secret.gateway_keys.secret_id, mount_path = local.gateway_keys_dir, file = "keys.json" } } : {}
  probe_port          = each.key == "gateway" ? local.gateway_ops_port : null
  deletion_protection = var.protect_data
  labels              = local.labels
  # OTLP to an OpenTelemetry Collector beside the service (telemetry.tf).
  telemetry_sidecar = var.telemetry_sidecar ? {
    image          = var.collector.image
    config_secret  = google_secret_manager_secret.collector_config[0].secret_id
    config_version = google_secret_manager_secret_version.collector_config[0].version
    cpu            = var.collector.cpu
    memory         = var.collector.memory
  } : null

  # The services need their grants (and the gateway its secret) before their first revision starts.
  depends_on = [
    google_pubsub_topic_iam_member.gateway_publish_type,
    google_pubsub_topic_iam_member.gateway_publish_control,
    google_secret_manager_secret_iam_member.gateway_keys,
    google_pubsub_subscription_iam_member.worker_subscribe,
    google_storage_bucket_iam_member.worker_write,
    google_pubsub_subscription_iam_member.checker_subscribe,
    google_pubsub_topic_iam_member.checker_publish_probes,
    google_storage_bucket_iam_member.checker_objects,
    google_secret_manager_secret_iam_member.collector_config,
    google_project_iam_member.metric_writer,
    google_project_iam_member.trace_agent,
  ]
}
