# hourglass on Google Cloud: the event types from schemas/, and the names every other file uses.
# Per-type resources iterate local.types, which comes from module.event_types: adding a folder
# schemas/<type>/ with a type.json is all it takes to add a type.

module "event_types" {
  source      = "../event-types"
  schemas_dir = var.schemas_dir
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  types = module.event_types.types

  bucket_name = coalesce(var.bucket_name, "${var.project_id}-${var.name}-events")

  # Pub/Sub names, as the services derive them from HOURGLASS_TOPIC_PREFIX.
  topic_name               = { for t in keys(local.types) : t => "${var.topic_prefix}${t}" }
  worker_subscription_name = { for t in keys(local.types) : t => "${var.topic_prefix}${t}-worker" }
  dead_topic_name          = { for t in keys(local.types) : t => "${var.topic_prefix}${t}-dead" }
  control_topic_name       = "${var.topic_prefix}control"
  control_subscription     = "${var.topic_prefix}control-checker"
  closed_windows_topic     = "${var.topic_prefix}closed-windows"
  staged_topic             = "${var.topic_prefix}staged"
  # One notice slot per checker replica that can run (services/checker/staged-notices.ts).
  notice_slots = var.services["checker"].max_instances

  # Google-managed identities that act on our resources (dead-lettering, CMEK).
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  labels = merge({ app = var.name }, var.labels)

  apis = concat([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudtrace.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    ],
    # Identity-Aware Proxy in front of the status console (console.tf).
    var.console.enabled && var.console.iap ? ["iap.googleapis.com"] : [],
    # BigLake's Iceberg REST catalog of the Iceberg tables (tables.tf).
    var.iceberg_tables.enabled ? ["biglake.googleapis.com"] : [],
  )
}

resource "google_project_service" "api" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}
