# The knobs an environment sets; everything else keeps the module's defaults (modules/hourglass/variables.tf).

variable "project_id" {
  description = "Google Cloud project."
  type        = string
}

variable "region" {
  description = "Region of everything regional."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Name stem of service accounts, services, the secret and the image repository."
  type        = string
  default     = "hourglass"
}

variable "topic_prefix" {
  description = "Prefix of Pub/Sub topics and subscriptions (HOURGLASS_TOPIC_PREFIX)."
  type        = string
  default     = "hourglass-"
}

variable "bucket_name" {
  description = "Event bucket name; null: <project_id>-<name>-events."
  type        = string
  default     = null
}

variable "window_s" {
  description = "Window length in seconds (HOURGLASS_WINDOW_S)."
  type        = number
  default     = 3600
}

variable "kms_key_name" {
  description = "Optional customer-managed key of the bucket."
  type        = string
  default     = null
}

variable "deadletter_expire_days" {
  description = "Days after which dead letters (deadletter/ in the bucket) are deleted; null: never (the module's default)."
  type        = number
  default     = null
}

variable "image_tag" {
  description = "Image tag to run; null deploys no Cloud Run service yet."
  type        = string
  default     = null
}

variable "services" {
  description = "Cloud Run sizing per service (see the module's variable of the same name)."
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
}

variable "bigquery_tables" {
  description = "Create a BigQuery table per type once it has a closed window; false on the first apply (the bucket does not exist yet)."
  type        = bool
  default     = false
}

variable "analyst_members" {
  description = "Principals who may query the closed hours."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "Monitoring notification channels every alert notifies."
  type        = list(string)
  default     = []
}

variable "telemetry_sidecar" {
  description = "An OpenTelemetry Collector beside every service (metrics to Managed Service for Prometheus, spans to Cloud Trace), read by the metric alerts and the dashboard."
  type        = bool
  default     = true
}

variable "console" {
  description = "The status console as a Cloud Run service: enabled, behind IAP (iap) for members, or internal-only (see the module's variable of the same name)."
  type = object({
    enabled       = optional(bool, false)
    iap           = optional(bool, true)
    members       = optional(list(string), [])
    max_instances = optional(number, 1)
  })
  default = {}
}

variable "iceberg_tables" {
  description = "Iceberg tables of the closed hours in BigLake's Iceberg REST catalog, kept by the table committer: off by default (its service must be in the image first); a type gets a table when its type.json says \"table\": true (see the module's variable of the same name)."
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
}

variable "protect_data" {
  description = "Refuse to destroy the bucket and the services."
  type        = bool
  default     = true
}
