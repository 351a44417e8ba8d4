output "bucket" {
  description = "The event bucket (HOURGLASS_BUCKET)."
  value       = module.hourglass.bucket
}

output "topics" {
  description = "Pub/Sub topic per event type."
  value       = module.hourglass.topics
}

output "worker_subscriptions" {
  description = "The worker's subscription per event type."
  value       = module.hourglass.worker_subscriptions
}

output "dead_letter_topics" {
  description = "Dead-letter topic per event type."
  value       = module.hourglass.dead_letter_topics
}

output "control_topic" {
  description = "The heartbeat topic."
  value       = module.hourglass.control_topic
}

output "control_subscription" {
  description = "The checker's heartbeat subscription."
  value       = module.hourglass.control_subscription
}

output "bigquery_tables" {
  description = "External table per event type."
  value       = module.hourglass.bigquery_tables
}

output "image_repository" {
  description = "Push the image here as <repository>/hourglass:<tag>."
  value       = module.hourglass.image_repository
}

output "gateway_url" {
  description = "The gateway's URL."
  value       = module.hourglass.gateway_url
}

output "console_url" {
  description = "The status console's URL (null unless console.enabled); behind IAP, open it signed in as one of console.members."
  value       = module.hourglass.console_url
}

output "service_urls" {
  description = "URL of every Cloud Run service."
  value       = module.hourglass.service_urls
}

output "service_accounts" {
  description = "Runtime service account per service."
  value       = module.hourglass.service_accounts
}

output "gateway_keys_secret" {
  description = "Secret holding the gateway's keys document."
  value       = module.hourglass.gateway_keys_secret
}

output "types" {
  description = "Event types found in schemas/."
  value       = module.hourglass.types
}

output "dashboard" {
  description = "The deployment's Cloud Monitoring dashboard."
  value       = module.hourglass.dashboard
}

output "iceberg_tables" {
  description = "The Iceberg tables (null unless iceberg_tables.enabled): warehouse, catalog, namespace, the committer's subscription, and the BigQuery prefix <project>.<catalog>.<namespace> of the tables."
  value       = module.hourglass.iceberg_tables
}
