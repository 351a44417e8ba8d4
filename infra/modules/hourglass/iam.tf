# Who may do what: one service account per service, each granted only what its job needs, on the
# narrowest resource that holds it. No project-level roles but the two that only write telemetry
# (they exist at project level only). test/infra/iam.test.ts holds the allow-list this file must stay
# within; widen a grant here and that test fails.
#
#   gateway  publish to the type topics and the control topic; read its token secret
#   worker   consume the worker subscriptions; publish staged notices; create objects under staging/ and
#            deadletter/ only
#   checker  consume the control subscription and the notice slots, publish its probes to the control topic and closed-window
#            events to the closed-windows topic; read, write and
#            delete objects in the bucket
#   all      with telemetry_sidecar: read the collector's config secret; write metrics and spans
#   console  (optional; its grants and IAP's are in console.tf) read objects in the bucket
#
# Object-prefix conditions name objects as projects/_/buckets/<bucket>/objects/<key>.

locals {
  object_prefix = "projects/_/buckets/${local.bucket_name}/objects/"
}

resource "google_service_account" "gateway" {
  project      = var.project_id
  account_id   = "${var.name}-gateway"
  display_name = "hourglass gateway (publishes events)"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "${var.name}-worker"
  display_name = "hourglass worker (subscriptions to staging/)"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "checker" {
  project      = var.project_id
  account_id   = "${var.name}-checker"
  display_name = "hourglass checker (closes windows)"

  depends_on = [google_project_service.api]
}

# --- gateway -----------------------------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "gateway_publish_type" {
  for_each = local.types

  project = var.project_id
  topic   = google_pubsub_topic.type[each.key].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.gateway.member
}

# The gateway's SDK sends heartbeats like every publisher.
resource "google_pubsub_topic_iam_member" "gateway_publish_control" {
  project = var.project_id
  topic   = google_pubsub_topic.control.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.gateway.member
}

resource "google_secret_manager_secret_iam_member" "gateway_keys" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.gateway_keys.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gateway.member
}

# --- worker ------------------------------------------------------------------------------------

# Staged notices for the checkers (services/worker/staged-announcer.ts).
resource "google_pubsub_topic_iam_member" "worker_publish_staged" {
  project = var.project_id
  topic   = google_pubsub_topic.staged.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.worker.member
}

resource "google_pubsub_subscription_iam_member" "worker_subscribe" {
  for_each = local.types

  project      = var.project_id
  subscription = google_pubsub_subscription.worker[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.worker.member
}

# Create only (no read, overwrite or delete), and only under staging/ and deadletter/.
resource "google_storage_bucket_iam_member" "worker_write" {
  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.worker.member

  condition {
    title       = "staging-and-deadletter-only"
    description = "The worker writes staging/ and deadletter/ objects and nothing else."
    expression  = "resource.name.startsWith(\"${local.object_prefix}staging/\") || resource.name.startsWith(\"${local.object_prefix}deadletter/\")"
  }
}

# --- checker -----------------------------------------------------------------------------------

resource "google_pubsub_subscription_iam_member" "checker_subscribe" {
  project      = var.project_id
  subscription = google_pubsub_subscription.control_checker.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.checker.member
}

# The notice slots: each replica reads the one of its rank (services/checker/staged-notices.ts).
resource "google_pubsub_subscription_iam_member" "checker_read_notices" {
  count = local.notice_slots

  project      = var.project_id
  subscription = google_pubsub_subscription.staged_checker[count.index].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.checker.member
}

# Probes: a checker publishes a small message to the control topic every round; reading one back proves the
# subscription was read past its publish time (services/checker/control-consumer.ts).
resource "google_pubsub_topic_iam_member" "checker_publish_probes" {
  project = var.project_id
  topic   = google_pubsub_topic.control.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.checker.member
}

# Announces every closed window (services/checker/window-announcer.ts).
resource "google_pubsub_topic_iam_member" "checker_publish_closed_windows" {
  project = var.project_id
  topic   = google_pubsub_topic.closed_windows.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.checker.member
}

# Who may attach a subscription to the closed-windows topic (roles/pubsub.subscriber on the topic holds
# pubsub.topics.attachSubscription); the subscription itself lives in the consumer's own project.
resource "google_pubsub_topic_iam_member" "closed_window_subscribers" {
  for_each = toset(var.closed_window_subscribers)
  project  = var.project_id
  topic    = google_pubsub_topic.closed_windows.name
  role     = "roles/pubsub.subscriber"
  member   = each.key
}

# Reads staging/, writes closed hours, late/ and checker/, deletes staging after a close.
# objectUser: object read/write/delete without the object IAM rights of objectAdmin.
resource "google_storage_bucket_iam_member" "checker_objects" {
  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectUser"
  member = google_service_account.checker.member
}

# --- every service: its telemetry sidecar (telemetry_sidecar; telemetry.tf) ------------------------

# The collector beside each service runs as the service's account: it reads its config, writes the
# service's metrics (Managed Service for Prometheus) and spans (Cloud Trace). Both writer roles exist
# only at project level; they write time series and spans, and read nothing.
resource "google_secret_manager_secret_iam_member" "collector_config" {
  for_each = var.telemetry_sidecar ? local.service_accounts : {}

  project   = var.project_id
  secret_id = google_secret_manager_secret.collector_config[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value}"
}

resource "google_project_iam_member" "metric_writer" {
  for_each = var.telemetry_sidecar ? local.service_accounts : {}

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = "serviceAccount:${each.value}"
}

resource "google_project_iam_member" "trace_agent" {
  for_each = var.telemetry_sidecar ? local.service_accounts : {}

  project = var.project_id
  role    = "roles/cloudtrace.agent"
  member  = "serviceAccount:${each.value}"
}

# --- Pub/Sub's service agent: dead-lettering and the dead-letter archive -------------------------

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_publisher" {
  for_each = local.types

  project = var.project_id
  topic   = google_pubsub_topic.dead[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

# To acknowledge on the worker subscription what it forwarded to the dead-letter topic.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_worker_subscriber" {
  for_each = local.types

  project      = var.project_id
  subscription = google_pubsub_subscription.worker[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The Cloud Storage subscriptions write deadletter/<type>/undeliverable/…; the bucket-level clause
# lets Pub/Sub's permission check on the bucket pass while objects stay confined to deadletter/.
resource "google_storage_bucket_iam_member" "pubsub_agent_deadletter_writer" {
  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectCreator"
  member = local.pubsub_agent

  condition {
    title       = "deadletter-only"
    description = "Pub/Sub archives dead-lettered messages under deadletter/ and nowhere else."
    expression  = "resource.type == \"storage.googleapis.com/Bucket\" || resource.name.startsWith(\"${local.object_prefix}deadletter/\")"
  }
}

# Cloud Storage subscriptions need the bucket's metadata (storage.buckets.get).
resource "google_storage_bucket_iam_member" "pubsub_agent_bucket_reader" {
  bucket = google_storage_bucket.events.name
  role   = "roles/storage.legacyBucketReader"
  member = local.pubsub_agent
}

# --- analysts: the closed hours through BigQuery, nothing else ---------------------------------

resource "google_bigquery_dataset_iam_member" "analysts" {
  for_each = toset(var.analyst_members)

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.key
}

# External tables read the files as the querying user: closed hours only (listing is bucket-wide).
resource "google_storage_bucket_iam_member" "analysts_closed_hours" {
  for_each = toset(var.analyst_members)

  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectViewer"
  member = each.key

  condition {
    title       = "closed-hours-only"
    description = "Objects under <type>/ for every event type; not staging/, late/, deadletter/ or checker/."
    expression = join(" || ", concat(
      ["resource.type == \"storage.googleapis.com/Bucket\""],
      [for t in keys(local.types) : "resource.name.startsWith(\"${local.object_prefix}${t}/\")"],
    ))
  }
}
