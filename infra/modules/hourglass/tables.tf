# Apache Iceberg tables, one per event type whose type.json says "table": true (opt-in per type), when
# var.iceberg_tables.enabled (off by default), kept by the table committer (services/table/main.ts): it
# pulls the closed-windows topic through its own ordered subscription, reads each closed hour from the
# event bucket, writes Parquet data files and Iceberg manifests into the warehouse bucket, and commits
# them through the Iceberg REST catalog protocol to BigLake's catalog for that bucket, so that BigQuery
# reads the tables as `<project>.<warehouse bucket>.<namespace>.<type>`.
#
#   warehouse bucket  <project_id>-<name>-tables (or iceberg_tables.warehouse_bucket; create_bucket =
#                     false uses an existing one): uniform access, the event bucket's location and key
#   catalog           google_biglake_iceberg_catalog of type CATALOG_TYPE_GCS_BUCKET, named as the
#                     bucket (BigLake requires it), end-user credentials: every caller needs its own
#                     access to the bucket; the REST `warehouse` is "gs://<bucket>"
#   namespace         iceberg_tables.namespace ("hourglass"); the committer creates one table per type
#   subscription      <topic_prefix>closed-windows-tables on the closed-windows topic: ordered (the
#                     checker's ordering key is the type), 600 s ack deadline, dead-lettering to
#                     <topic_prefix>closed-windows-tables-dead, held 31 days on its -hold subscription
#   committer         the account <name>-tables and, once image_tag is set, the Cloud Run service
#                     <name>-tables (`node services/table/main.ts`), a pull consumer deployed like the
#                     checker: CPU always, min_instances >= 1, internal ingress, probes on PORT
#
# The committer's grants (least privilege; test/infra/iam.test.ts holds the allow-list):
#   roles/pubsub.subscriber               its subscription only
#   roles/storage.objectViewer            the event bucket, objects under <type>/ of the opted-in types
#                                         only (closed hours and their manifests; IAM condition)
#   roles/storage.objectCreator           the event bucket, under tables/refused/ only (windows it cannot
#                                         commit, with the reason: the tables' dead-letter area)
#   roles/storage.objectUser              the warehouse bucket (Parquet, manifests, metadata: create,
#                                         read, delete; end-user credential mode needs it)
#   roles/biglake.editor                  the catalog (namespaces and tables: create, read, commit)
#   roles/serviceusage.serviceUsageConsumer  the project: BigLake's Iceberg REST API takes the billing
#                                         project from the X-Goog-User-Project header, whose caller
#                                         needs serviceusage.services.use there (project-level only)
# With analyst_members: roles/biglake.viewer on the catalog and roles/storage.objectViewer on the
# warehouse bucket, so that their BigQuery queries may read the tables (end-user credentials).

locals {
  tables_enabled  = var.iceberg_tables.enabled
  tables_deployed = local.tables_enabled && var.image_tag != null

  # The opted-in types: "table": true in their type.json (modules/event-types), as the committer reads it.
  table_types = local.tables_enabled ? sort([for t, c in local.types : t if c.table]) : []

  warehouse_bucket_name = coalesce(var.iceberg_tables.warehouse_bucket, "${var.project_id}-${var.name}-tables")
  tables_subscription   = "${var.topic_prefix}closed-windows-tables"
  tables_dead_topic     = "${var.topic_prefix}closed-windows-tables-dead"
  tables_dead_hold      = "${var.topic_prefix}closed-windows-tables-dead-hold"

  # The shared settings every service gets (run.tf), and the committer's own.
  table_env = merge(local.service_env, {
    HOURGLASS_TABLE_CATALOG_URI  = var.iceberg_tables.catalog_uri
    HOURGLASS_TABLE_WAREHOUSE    = "gs://${local.warehouse_bucket_name}"
    HOURGLASS_TABLE_NAMESPACE    = var.iceberg_tables.namespace
    HOURGLASS_TABLE_SUBSCRIPTION = local.tables_subscription
  })
}

# --- the warehouse: bucket, BigLake Iceberg catalog, namespace -----------------------------------------

resource "google_storage_bucket" "warehouse" {
  count = local.tables_enabled && var.iceberg_tables.create_bucket ? 1 : 0

  project  = var.project_id
  name     = local.warehouse_bucket_name
  location = upper(var.region)
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  deletion_policy             = var.protect_data ? "PREVENT" : "DELETE"

  # No lifecycle rule: Iceberg's snapshots reference these files; expiring them is the committer's.

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs_agent_cmek, google_project_service.api]
}

# BigLake's Iceberg REST catalog over the bucket: its name must be the bucket's. End-user credentials
# (the default, stated): BigLake vends no tokens, each caller reads and writes the files as itself.
resource "google_biglake_iceberg_catalog" "tables" {
  count = local.tables_enabled ? 1 : 0

  project         = var.project_id
  name            = local.warehouse_bucket_name
  catalog_type    = "CATALOG_TYPE_GCS_BUCKET"
  credential_mode = "CREDENTIAL_MODE_END_USER"
  description     = "hourglass: one Iceberg table per event type, committed by ${var.name}-tables."
  deletion_policy = var.protect_data ? "PREVENT" : "DELETE"

  # BigLake refuses a catalog over a bucket that does not exist yet.
  depends_on = [google_storage_bucket.warehouse, google_project_service.api]
}

resource "google_biglake_iceberg_namespace" "tables" {
  count = local.tables_enabled ? 1 : 0

  project         = var.project_id
  catalog         = google_biglake_iceberg_catalog.tables[0].name
  namespace_id    = var.iceberg_tables.namespace
  deletion_policy = var.protect_data ? "PREVENT" : "DELETE"
}

# --- Pub/Sub: the committer's subscription to closed windows, and its dead letters -------------------

resource "google_pubsub_topic" "closed_windows_tables_dead" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  name    = local.tables_dead_topic
  labels  = local.labels

  depends_on = [google_project_service.api]
}

# A topic without a subscription drops what is published to it: dead-lettered closed-window events
# are held here (31 days, the most Pub/Sub keeps) for an operator to look at and republish to the
# closed-windows topic. The hour itself stays in the event bucket; only its table commit is pending.
resource "google_pubsub_subscription" "closed_windows_tables_dead_hold" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  name    = local.tables_dead_hold
  topic   = google_pubsub_topic.closed_windows_tables_dead[0].id
  labels  = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "2678400s"

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "closed_windows_tables" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  name    = local.tables_subscription
  topic   = google_pubsub_topic.closed_windows.id
  labels  = local.labels

  # One type's windows in the order the checker announced them (its ordering key is the type).
  enable_message_ordering = true
  # A commit reads an hour and writes Parquet before it acks: up to Pub/Sub's maximum.
  ack_deadline_seconds = 600
  # As long as the topic keeps them (pubsub.tf): a committer stopped for days catches up.
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.closed_windows_tables_dead[0].id
    max_delivery_attempts = var.iceberg_tables.max_delivery_attempts
  }

  # Pub/Sub's own agent must be allowed to forward to the dead-letter topic first.
  depends_on = [google_pubsub_topic_iam_member.pubsub_agent_tables_dead_publisher]
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_tables_dead_publisher" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.closed_windows_tables_dead[0].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

# To acknowledge on the committer's subscription what it forwarded to the dead-letter topic.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_tables_subscriber" {
  count = local.tables_enabled ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.closed_windows_tables[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- the committer: its account and grants -----------------------------------------------------------

resource "google_service_account" "table" {
  count = local.tables_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-tables"
  display_name = "hourglass table committer (closed hours to Iceberg tables)"

  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription_iam_member" "table_subscribe" {
  count = local.tables_enabled ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.closed_windows_tables[0].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.table[0].member
}

# Create only, and only under tables/refused/: a closed window that can never be committed as it is
# (its manifest does not match its event, its schema cannot map) is kept there with the reason.
resource "google_storage_bucket_iam_member" "table_write_refused" {
  count = local.tables_enabled ? 1 : 0

  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.table[0].member

  condition {
    title       = "tables-refused-only"
    description = "The table committer writes refused windows under tables/refused/ and nothing else."
    expression  = "resource.name.startsWith(\"${local.object_prefix}tables/refused/\")"
  }
}

# Read only, and only the closed hours (and their manifests) of the opted-in types; listing is
# bucket-wide (the bucket clause), as for the analysts.
resource "google_storage_bucket_iam_member" "table_read_closed_hours" {
  count = local.tables_enabled ? 1 : 0

  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.table[0].member

  condition {
    title       = "opted-in-closed-hours-only"
    description = "Objects under <type>/ for the types with an Iceberg table; not staging/, late/, deadletter/ or checker/."
    expression = join(" || ", concat(
      ["resource.type == \"storage.googleapis.com/Bucket\""],
      [for t in keys(local.types) : "resource.name.startsWith(\"${local.object_prefix}${t}/\")" if contains(local.table_types, t)],
    ))
  }
}

# Data files, manifests and table metadata: create, read and delete (orphans, expired snapshots).
# objectUser: object read/write/delete without the object IAM rights of objectAdmin.
resource "google_storage_bucket_iam_member" "table_warehouse" {
  count = local.tables_enabled ? 1 : 0

  bucket = local.warehouse_bucket_name
  role   = "roles/storage.objectUser"
  member = google_service_account.table[0].member

  depends_on = [google_storage_bucket.warehouse]
}

# Namespaces and tables of this catalog only: create, load, commit (no IAM on them, no other catalog).
resource "google_biglake_iceberg_catalog_iam_member" "table_editor" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  name    = google_biglake_iceberg_catalog.tables[0].name
  role    = "roles/biglake.editor"
  member  = google_service_account.table[0].member
}

# BigLake's Iceberg REST API bills the project named in X-Goog-User-Project, whose caller needs
# serviceusage.services.use on it. A project-level permission: it lets the account bill API calls to
# this project, and reads or changes nothing.
resource "google_project_iam_member" "table_usage_consumer" {
  count = local.tables_enabled ? 1 : 0

  project = var.project_id
  role    = "roles/serviceusage.serviceUsageConsumer"
  member  = google_service_account.table[0].member
}

# --- analysts: the tables through BigQuery -----------------------------------------------------------

# End-user credentials: BigQuery reads the table's files as the querying user.
resource "google_biglake_iceberg_catalog_iam_member" "analysts" {
  for_each = local.tables_enabled ? toset(var.analyst_members) : toset([])

  project = var.project_id
  name    = google_biglake_iceberg_catalog.tables[0].name
  role    = "roles/biglake.viewer"
  member  = each.key
}

resource "google_storage_bucket_iam_member" "analysts_warehouse" {
  for_each = local.tables_enabled ? toset(var.analyst_members) : toset([])

  bucket = local.warehouse_bucket_name
  role   = "roles/storage.objectViewer"
  member = each.key

  depends_on = [google_storage_bucket.warehouse]
}

# --- the committer on Cloud Run ----------------------------------------------------------------------

# A pull consumer like the checker: CPU between requests, never below one instance, internal only,
# probed on /health/live at PORT. Not in local.service_accounts (the three pipeline services): no
# telemetry sidecar, no deletion protection (its state is the catalog and the warehouse bucket).
module "table_committer" {
  source = "../cloud-run-service"
  count  = local.tables_deployed ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name}-tables"
  service               = "table"
  image                 = local.image
  service_account_email = google_service_account.table[0].email
  cpu_always            = true
  min_instances         = var.iceberg_tables.min_instances
  max_instances         = var.iceberg_tables.max_instances
  cpu                   = var.iceberg_tables.cpu
  memory                = var.iceberg_tables.memory
  env                   = local.table_env
  deletion_protection   = false
  labels                = local.labels

  # Its grants, the namespace and the subscription before its first revision starts.
  depends_on = [
    google_pubsub_subscription_iam_member.table_subscribe,
    google_storage_bucket_iam_member.table_read_closed_hours,
    google_storage_bucket_iam_member.table_warehouse,
    google_biglake_iceberg_catalog_iam_member.table_editor,
    google_project_iam_member.table_usage_consumer,
    google_biglake_iceberg_namespace.tables,
  ]
}

# --- alert: closed windows not reaching their tables -------------------------------------------------

resource "google_monitoring_alert_policy" "table_commits" {
  count = local.tables_enabled ? 1 : 0

  project               = var.project_id
  display_name          = "hourglass: Iceberg table commits behind"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = var.name }

  conditions {
    display_name = "${local.tables_subscription}: oldest unacked message older than ${var.iceberg_tables.oldest_unacked_s} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.closed_windows_tables[0].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.iceberg_tables.oldest_unacked_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  conditions {
    display_name = "${local.tables_subscription}: closed windows dead-lettered"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.closed_windows_tables[0].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Closed windows are not reaching their Iceberg tables (catalog `${local.warehouse_bucket_name}`, namespace `${var.iceberg_tables.namespace}`).
      A backlog on `${local.tables_subscription}`: is the `${var.name}-tables` service running, and can it commit to BigLake (its logs name the failing call)?
      A closed window that failed ${var.iceberg_tables.max_delivery_attempts} deliveries is held on `${local.tables_dead_hold}` (31 days); the hour itself is safe in `gs://${local.bucket_name}/`.
      See docs/deploy.md, "Iceberg tables on Google Cloud".
    EOT
  }
}
