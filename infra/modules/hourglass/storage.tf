# The event bucket (layout in DESIGN.md). Nothing that holds events is deleted by age: staging/ is
# data not yet proven (the checker removes it once its window is closed, and an alert in
# monitoring.tf fires when it outlives its type's max wait), and dead letters are kept until someone
# redrives or removes them, unless deadletter_expire_days is set. Closed hours (<type>/dt=…/hour=…/),
# late/ and checker/ are kept, except checker/client-ids/ (digests of client ids, not events). No public access, IAM only (no object ACLs).

resource "google_storage_bucket" "events" {
  project  = var.project_id
  name     = local.bucket_name
  location = upper(var.region)
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  deletion_policy             = var.protect_data ? "PREVENT" : "DELETE"

  # Not events: the digests of client event ids a closed window holds (checker/client-ids/), read only
  # to drop a client retry that arrives after its window closed. After this age such a late copy is
  # kept in late/ (a possible duplicate there, never a loss); docs/design.md, "Late events".
  lifecycle_rule {
    condition {
      age            = var.client_id_digests_retention_days
      matches_prefix = ["checker/client-ids/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.announced_markers_retention_days
      matches_prefix = ["checker/announced/"]
    }
    action {
      type = "Delete"
    }
  }

  # Only when asked for: a dead letter deleted is an event lost (the worker's and Pub/Sub's
  # deadletter/<type>/undeliverable/ files alike).
  dynamic "lifecycle_rule" {
    for_each = var.deadletter_expire_days == null ? [] : [var.deadletter_expire_days]
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = ["deadletter/"]
      }
      action {
        type = "Delete"
      }
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  # With a customer-managed key, Cloud Storage's agent must be able to use it before the bucket is.
  depends_on = [google_kms_crypto_key_iam_member.gcs_agent_cmek, google_project_service.api]
}

data "google_storage_project_service_account" "gcs_agent" {
  count   = var.kms_key_name == null ? 0 : 1
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "gcs_agent_cmek" {
  count = var.kms_key_name == null ? 0 : 1

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = data.google_storage_project_service_account.gcs_agent[0].member
}
