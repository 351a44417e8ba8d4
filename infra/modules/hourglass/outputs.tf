# What an operator needs after an apply.

output "types" {
  description = "The event types found in schemas/, with their tier and owner."
  value       = { for t, c in local.types : t => { tier = c.tier, owner = c.owner } }
}

output "bucket" {
  description = "The event bucket, as the services' HOURGLASS_BUCKET."
  value       = "gs://${google_storage_bucket.events.name}"
}

output "bucket_delete_rules" {
  description = "The bucket's lifecycle rules that delete objects, as { age_days, prefixes }. Nothing that holds events is deleted by age: by default only checker/client-ids/ (digests, not events) and checker/announced/ (markers) expire; deadletter/ only with deadletter_expire_days."
  value = [
    for r in google_storage_bucket.events.lifecycle_rule : { age_days = one(r.condition).age, prefixes = one(r.condition).matches_prefix }
    if one(r.action).type == "Delete"
  ]
}

output "topics" {
  description = "Pub/Sub topic per event type."
  value       = { for t, topic in google_pubsub_topic.type : t => topic.name }
}

output "worker_subscriptions" {
  description = "The worker's subscription per event type."
  value       = { for t, s in google_pubsub_subscription.worker : t => s.name }
}

output "dead_letter_topics" {
  description = "Dead-letter topic per event type (archived under deadletter/<type>/undeliverable/)."
  value       = { for t, topic in google_pubsub_topic.dead : t => topic.name }
}

output "control_topic" {
  description = "The heartbeat topic."
  value       = google_pubsub_topic.control.name
}

output "closed_windows_topic" {
  description = "The topic announcing every closed window (one JSON event each; de-duplicate on dedupKey)."
  value       = google_pubsub_topic.closed_windows.id
}

output "control_subscription" {
  description = "The checker's heartbeat subscription."
  value       = google_pubsub_subscription.control_checker.name
}

output "bigquery_tables" {
  description = "External table per event type (empty until bigquery_tables = true)."
  value       = { for t, table in google_bigquery_table.type : t => "${table.project}.${table.dataset_id}.${table.table_id}" }
}

output "image_repository" {
  description = "Where to push the image: <this>/hourglass:<tag>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "gateway_url" {
  description = "The gateway's URL (null until image_tag is set)."
  value       = try(module.service["gateway"].uri, null)
}

output "service_urls" {
  description = "URL of every deployed Cloud Run service (worker, checker and the table committer answer only from inside the project; the console, when deployed, as console_url says)."
  value       = merge({ for s, m in module.service : s => m.uri }, { for m in module.console : "console" => m.uri }, { for m in module.table_committer : "table" => m.uri })
}

output "service_accounts" {
  description = "Runtime service account per service (the console's with console.enabled, the table committer's with iceberg_tables.enabled)."
  value       = merge(local.service_accounts, { for a in google_service_account.console : "console" => a.email }, { for a in google_service_account.table : "table" => a.email })
}

output "iceberg_tables" {
  description = "The Iceberg tables (null unless iceberg_tables.enabled): the types that get one, the warehouse (HOURGLASS_TABLE_WAREHOUSE), the BigLake catalog and namespace, the REST catalog URI, the committer's subscription and dead-letter hold, and the BigQuery prefix of the tables (<prefix>.<type>)."
  value = local.tables_enabled ? {
    types              = local.table_types
    warehouse          = "gs://${local.warehouse_bucket_name}"
    catalog            = local.warehouse_bucket_name
    namespace          = var.iceberg_tables.namespace
    catalog_uri        = var.iceberg_tables.catalog_uri
    subscription       = local.tables_subscription
    dead_letter_hold   = local.tables_dead_hold
    bigquery_prefix    = "${var.project_id}.${local.warehouse_bucket_name}.${var.iceberg_tables.namespace}"
    service_account_id = "${var.name}-tables"
  } : null
}

output "console_url" {
  description = "The status console's URL (null until console.enabled and image_tag are set). Behind IAP (console.iap), open it in a browser signed in as one of console.members; with console.iap = false it answers only from inside the project's network, to console.members' identity tokens."
  value       = try(module.console[0].uri, null)
}

output "gateway_keys_secret" {
  description = "Secret Manager secret holding the gateway's keys document (clients, keys, types, quotas; JSON)."
  value       = google_secret_manager_secret.gateway_keys.secret_id
}

output "dashboard" {
  description = "The Cloud Monitoring dashboard of this deployment (projects/<number>/dashboards/<id>): timeliness per tier, loss, throughput, backlog, dead letters."
  value       = google_monitoring_dashboard.hourglass.id
}
