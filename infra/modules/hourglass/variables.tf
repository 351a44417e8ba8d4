# Inputs of the hourglass module. Durations carry their unit in the name (_s seconds, _days days).

variable "project_id" {
  description = "Google Cloud project that holds everything (e.g. \"acme-events-prod\")."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Artifact Registry, the bucket and the BigQuery dataset (e.g. \"europe-west1\")."
  type        = string
}

variable "schemas_dir" {
  description = "Path of the repository's schemas/ folder; every schemas/<type>/type.json becomes a type."
  type        = string
}

variable "name" {
  description = "Name stem of service accounts, Cloud Run services, the secret and the image repository."
  type        = string
  default     = "hourglass"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 characters of a-z, 0-9 and '-', starting with a letter (service account ids are at most 30)."
  }
}

variable "topic_prefix" {
  description = "Prefix of every Pub/Sub topic and subscription; the services read it as HOURGLASS_TOPIC_PREFIX."
  type        = string
  default     = "hourglass-"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9._~%+-]*$", var.topic_prefix))
    error_message = "topic_prefix must start with a letter and hold only characters Pub/Sub allows in names."
  }
}

variable "bucket_name" {
  description = "Name of the event bucket. Default: \"<project_id>-<name>-events\"."
  type        = string
  default     = null
}

variable "window_s" {
  description = "Window length in seconds (HOURGLASS_WINDOW_S); a divisor of 3600. Default 3600: one window per hour."
  type        = number
  default     = 3600

  validation {
    condition     = var.window_s >= 1 && var.window_s <= 3600 && 3600 % var.window_s == 0
    error_message = "window_s must divide 3600 (the layout keys are dt=/hour= with finer keys below)."
  }
}

variable "kms_key_name" {
  description = "Optional customer-managed key for the bucket: projects/P/locations/L/keyRings/R/cryptoKeys/K. null: Google-managed."
  type        = string
  default     = null
}

variable "staging_expire_days" {
  description = "Retired: staging/ is never deleted by age. Kept only so that a configuration still setting it is told why; leave it unset."
  type        = number
  default     = null

  validation {
    condition     = var.staging_expire_days == null
    error_message = "staging_expire_days must not be set: staging/ holds acknowledged events whose window is not proven complete yet, and deleting them by age loses them. The checker removes a window's staging once it is closed; staging older than its type's max wait raises the alert \"hourglass <type>: staging older than its max wait\" instead (staging_age_margin_s)."
  }
}

variable "deadletter_expire_days" {
  description = "Days after which objects under deadletter/ (the worker's dead letters and Pub/Sub's deadletter/<type>/undeliverable/ files) are deleted. null (the default): never; a dead letter is an acknowledged event, kept until it is redriven or removed by hand."
  type        = number
  default     = null

  validation {
    condition     = var.deadletter_expire_days == null || try(var.deadletter_expire_days >= 1 && floor(var.deadletter_expire_days) == var.deadletter_expire_days, false)
    error_message = "deadletter_expire_days must be null (never delete dead letters) or a whole number of days, at least 1."
  }
}

variable "client_id_digests_retention_days" {
  description = "Days the digests of a closed window's client event ids (checker/client-ids/) are kept, to drop a client retry that arrives after its window closed. Not events: after this a late copy is kept in late/ (a possible duplicate there, never a loss). At most ~24 bytes per client id."
  type        = number
  default     = 7

  validation {
    condition     = var.client_id_digests_retention_days >= 1 && floor(var.client_id_digests_retention_days) == var.client_id_digests_retention_days
    error_message = "client_id_digests_retention_days must be a whole number of days, at least 1 (late copies are expected for hours, not days)."
  }
}

variable "closed_window_subscribers" {
  description = "IAM members (e.g. \"serviceAccount:scheduler@other-project.iam.gserviceaccount.com\") that may subscribe to the closed-windows topic."
  type        = list(string)
  default     = []
}

variable "announced_markers_retention_days" {
  description = "Days the checker's markers of announced windows (checker/announced/) are kept. A late event for a window older than this announces the window again (same dedupKey and manifest SHA-256: a duplicate a consumer drops)."
  type        = number
  default     = 30

  validation {
    condition     = var.announced_markers_retention_days >= 1 && floor(var.announced_markers_retention_days) == var.announced_markers_retention_days
    error_message = "announced_markers_retention_days must be a whole number of days, at least 1."
  }
}

variable "staging_age_margin_s" {
  description = "A type's staged events may wait past their window's end for the type's maxWaitS (type.json) plus this margin (the close itself, a few checker rounds) before the \"staging older than its max wait\" alert fires (seconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.staging_age_margin_s >= 0
    error_message = "staging_age_margin_s must be >= 0."
  }
}

variable "subscription" {
  description = <<-EOT
    Settings of every worker subscription: ack_deadline_s (initial; the client extends it while a
    staging write is in flight), retention_s (unacked backlog kept, 600-2678400), retry backoff
    min/max, and max_delivery_attempts (5-100) before a message goes to the type's dead-letter topic.
  EOT
  type = object({
    ack_deadline_s        = optional(number, 60)
    retention_s           = optional(number, 604800)
    min_backoff_s         = optional(number, 10)
    max_backoff_s         = optional(number, 600)
    max_delivery_attempts = optional(number, 10)
  })
  default = {}
}

variable "control_retention_s" {
  description = "How long unacked heartbeats stay on the checker's subscription (seconds)."
  type        = number
  default     = 604800
}

variable "tiers" {
  description = <<-EOT
    Alerting targets per type tier (type.json "tier"): oldest_unacked_s is the worker subscription
    backlog age that pages; close_target_s is the longest a window may stay open after it ends.
  EOT
  type = map(object({
    oldest_unacked_s = number
    close_target_s   = number
  }))
  default = {
    high   = { oldest_unacked_s = 300, close_target_s = 300 }
    normal = { oldest_unacked_s = 900, close_target_s = 900 }
    low    = { oldest_unacked_s = 1800, close_target_s = 3600 }
  }

  validation {
    condition     = alltrue([for t in ["high", "normal", "low"] : contains(keys(var.tiers), t)])
    error_message = "tiers must define high, normal and low."
  }
}

variable "control_oldest_unacked_s" {
  description = "Heartbeat backlog age on the checker's subscription that pages (seconds)."
  type        = number
  default     = 120
}

variable "deadletter_oldest_unacked_s" {
  description = "Backlog age of a dead-letter archive subscription (dead topic -> deadletter/ in the bucket) that pages."
  type        = number
  default     = 1800
}

variable "checker_closed_log_code" {
  description = "jsonPayload.code of the line the checker logs per closed window (with type, closeDelayMs, lostEvents); the window and loss alerts count these lines."
  type        = string
  default     = "HG_WINDOW_CLOSED"
}

variable "checker_overdue_log_code" {
  description = "jsonPayload.code of the line the checker logs once per window still open past its end plus the liveness timeout (it waits on a gap); the window alert counts these lines."
  type        = string
  default     = "HG_WINDOW_OVERDUE"
}

variable "checker_staging_age_log_code" {
  description = "jsonPayload.code of the line the checker logs once a minute per type whose oldest unclosed staging is past its window's end (with type, oldestUnclosedStagingS, maxWaitS, overMaxWaitS); the staging alert counts these lines."
  type        = string
  default     = "HG_STAGING_AGE"
}

variable "late_events_threshold" {
  description = "Late events (arrived after their window closed; kept under late/, not in the closed hour) of one type in an hour above which the \"late events\" alert fires. Needs telemetry_sidecar."
  type        = number
  default     = 0

  validation {
    condition     = var.late_events_threshold >= 0
    error_message = "late_events_threshold must be >= 0."
  }
}

variable "telemetry_sidecar" {
  description = "Run an OpenTelemetry Collector (collector) beside every service: their OTLP metrics go to Managed Service for Prometheus and their spans to Cloud Trace. The metric alerts (close delay, lost and late events, worker dead letters, stalled windows) and the dashboard's timeliness, loss and throughput charts read those metrics. false: no sidecar and no OTLP export; the close-delay and lost-events alerts read the checker's log lines instead, and the metric-only alerts are not created."
  type        = bool
  default     = true
}

variable "collector" {
  description = "The OpenTelemetry Collector sidecar of every service (with telemetry_sidecar): image (Google's build, pinned), and the CPU and memory limits of its container, added to each instance's (1 vCPU and 512Mi as in Google's Cloud Run sample; instances keep their CPU, so this is billed all the time)."
  type = object({
    image  = optional(string, "us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.160.0")
    cpu    = optional(string, "1")
    memory = optional(string, "512Mi")
  })
  default = {}
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) every alert notifies."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the hourglass image in this deployment's Artifact Registry repository. null: the Cloud Run services are not deployed yet (first apply, before an image exists)."
  type        = string
  default     = null
}

variable "services" {
  description = "Cloud Run sizing per service. Worker and checker always have CPU and keep min_instances running."
  type = map(object({
    min_instances = number
    max_instances = number
    cpu           = optional(string, "1")
    memory        = optional(string, "512Mi")
  }))
  default = {
    gateway = { min_instances = 1, max_instances = 10 }
    worker  = { min_instances = 1, max_instances = 10, memory = "1Gi" }
    checker = { min_instances = 1, max_instances = 2, memory = "1Gi" }
  }

  validation {
    condition     = alltrue([for s in ["gateway", "worker", "checker"] : contains(keys(var.services), s)])
    error_message = "services must size gateway, worker and checker."
  }
  validation {
    condition     = alltrue([for s in ["worker", "checker"] : try(var.services[s].min_instances >= 1, false)])
    error_message = "worker and checker pull from Pub/Sub: they need min_instances >= 1 (nothing wakes them by request)."
  }
}

variable "console" {
  description = "The status console (services/console: a read-only page of the bucket's windows) as a Cloud Run service, deployed once image_tag is set, running as its own service account with roles/storage.objectViewer on the bucket and nothing else. enabled: off by default (it is for people, who must be named in members, and granting them access through IAP needs roles/iap.admin for whoever applies). iap (default true): Identity-Aware Proxy in front of its URL, members (\"group:ops@example.com\") get roles/iap.httpsResourceAccessor on it; false: internal traffic only, members get roles/run.invoker (an identity token, from inside the project's network). max_instances: it scales to zero between visits."
  type = object({
    enabled       = optional(bool, false)
    iap           = optional(bool, true)
    members       = optional(list(string), [])
    max_instances = optional(number, 1)
  })
  default = {}

  validation {
    condition     = alltrue([for m in var.console.members : can(regex("^(user|group|domain|serviceAccount):[^\\s]+$|^principal(Set)?://[^\\s]+$", m))])
    error_message = "console.members must be IAM principals (user:, group:, domain:, serviceAccount:, principal://, principalSet://); never allUsers or allAuthenticatedUsers: the console shows every type's windows and losses."
  }
  validation {
    condition     = var.console.max_instances >= 1
    error_message = "console.max_instances must be at least 1."
  }
}

variable "iceberg_tables" {
  description = "Apache Iceberg tables of the closed hours, one per opted-in type (tables.tf), committed by the table committer (services/table/main.ts) to BigLake's Iceberg REST catalog, so that BigQuery reads them as <project>.<warehouse bucket>.<namespace>.<type>. enabled: off by default (BigLake API, a second bucket, a Cloud Run service once image_tag is set). Which types get a table is each type's choice: \"table\": true in its schemas/<type>/type.json (opt-in). warehouse_bucket: the bucket of data files and metadata, and the catalog's name (default \"<project_id>-<name>-tables\"); create_bucket = false uses an existing bucket of that name. namespace: the Iceberg namespace (BigQuery's dataset position). catalog_uri: the REST catalog endpoint. min_instances, max_instances, cpu, memory: the committer's Cloud Run sizing (a pull consumer: min_instances >= 1). max_delivery_attempts (5-100): deliveries of a closed window before it is dead-lettered. oldest_unacked_s: backlog age on its subscription that alerts."
  type = object({
    enabled               = optional(bool, false)
    warehouse_bucket      = optional(string)
    create_bucket         = optional(bool, true)
    namespace             = optional(string, "hourglass")
    catalog_uri           = optional(string, "https://biglake.googleapis.com/iceberg/v1/restcatalog")
    min_instances         = optional(number, 1)
    max_instances         = optional(number, 1)
    cpu                   = optional(string, "1")
    memory                = optional(string, "1Gi")
    max_delivery_attempts = optional(number, 10)
    oldest_unacked_s      = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.iceberg_tables.namespace))
    error_message = "iceberg_tables.namespace must be 1-63 characters of a-z, 0-9 and '_', starting with a letter (a name BigQuery can address as <project>.<catalog>.<namespace>.<table>)."
  }
  validation {
    condition     = var.iceberg_tables.min_instances >= 1 && var.iceberg_tables.max_instances >= var.iceberg_tables.min_instances
    error_message = "iceberg_tables.min_instances must be >= 1 (the committer pulls from Pub/Sub: nothing wakes it by request) and max_instances >= min_instances."
  }
  validation {
    condition     = var.iceberg_tables.max_delivery_attempts >= 5 && var.iceberg_tables.max_delivery_attempts <= 100
    error_message = "iceberg_tables.max_delivery_attempts must be 5-100 (Pub/Sub's range)."
  }
  validation {
    condition     = startswith(var.iceberg_tables.catalog_uri, "https://")
    error_message = "iceberg_tables.catalog_uri must be an https:// URL."
  }
}

variable "bigquery_dataset_id" {
  description = "BigQuery dataset of the external tables (one table per type, over its closed hours)."
  type        = string
  default     = "hourglass"
}

variable "bigquery_tables" {
  description = "Create a BigQuery external table for every type that has a closed window (BigQuery reads the schema from the files). Needs the bucket to exist: false on the very first apply (docs/deploy.md)."
  type        = bool
  default     = true
}

variable "analyst_members" {
  description = "Principals (\"group:analysts@example.com\") who may query the tables: BigQuery data viewer on the dataset, and object viewer on the closed hours only."
  type        = list(string)
  default     = []
}

variable "enable_apis" {
  description = "Enable the Google APIs hourglass uses (never disabled on destroy)."
  type        = bool
  default     = true
}

variable "protect_data" {
  description = "Refuse to delete the bucket and the pipeline's Cloud Run services (gateway, worker, checker) on destroy (the status console holds nothing and is not protected; the BigQuery tables are external tables over the bucket and carry no deletion protection: dropping one loses nothing)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels put on every resource that takes them."
  type        = map(string)
  default     = {}
}
