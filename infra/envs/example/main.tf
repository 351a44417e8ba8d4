# An hourglass environment: one project, one region. Copy this folder per environment (prod,
# staging…) and give each its own .tfvars and state prefix. Steps: docs/deploy.md.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.0"
    }
  }

  # State in a GCS bucket made once by hand (docs/deploy.md, step 2):
  #   terraform init -backend-config="bucket=<state bucket>" -backend-config="prefix=hourglass/<env>"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = { managed_by = "terraform" }
}

module "hourglass" {
  source = "../../modules/hourglass"

  project_id  = var.project_id
  region      = var.region
  schemas_dir = "${path.root}/../../../schemas"

  name                   = var.name
  topic_prefix           = var.topic_prefix
  bucket_name            = var.bucket_name
  window_s               = var.window_s
  kms_key_name           = var.kms_key_name
  deadletter_expire_days = var.deadletter_expire_days
  image_tag              = var.image_tag
  services               = var.services
  bigquery_tables        = var.bigquery_tables
  analyst_members        = var.analyst_members
  notification_channels  = var.notification_channels
  telemetry_sidecar      = var.telemetry_sidecar
  console                = var.console
  iceberg_tables         = var.iceberg_tables
  protect_data           = var.protect_data
}
