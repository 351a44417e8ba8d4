# `terraform test` (run by scripts/infra-validate.sh): plans the whole environment against a mocked
# google provider, so every expression, for_each and validation is evaluated with no credentials
# and no network. The real provider binary is still needed for its schema.

mock_provider "google" {
  mock_data "google_project" {
    defaults = { number = "123456789012" }
  }
  # Every type has a closed window, so every BigQuery table is planned.
  mock_data "google_storage_bucket_objects" {
    defaults = { bucket_objects = [{ name = "t/dt=2026-01-01/hour=00/_SUCCESS" }] }
  }
  mock_data "google_storage_project_service_account" {
    defaults = { member = "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com" }
  }
}

variables {
  project_id            = "hourglass-test"
  image_tag             = "test"
  bigquery_tables       = true
  kms_key_name          = "projects/hourglass-test/locations/europe-west1/keyRings/r/cryptoKeys/k"
  analyst_members       = ["group:analysts@example.com"]
  notification_channels = ["projects/hourglass-test/notificationChannels/1"]
}

run "every_type_is_wired" {
  command = plan

  assert {
    condition     = length(output.types) > 0 && keys(output.topics) == keys(output.types)
    error_message = "Every type needs a topic."
  }
  assert {
    condition     = keys(output.worker_subscriptions) == keys(output.types) && keys(output.dead_letter_topics) == keys(output.types)
    error_message = "Every type needs a worker subscription and a dead-letter topic."
  }
  assert {
    condition     = keys(output.bigquery_tables) == keys(output.types)
    error_message = "Every type needs a BigQuery table."
  }
  assert {
    condition     = alltrue([for t, topic in output.topics : topic == "hourglass-${t}" && output.worker_subscriptions[t] == "hourglass-${t}-worker" && output.dead_letter_topics[t] == "hourglass-${t}-dead"])
    error_message = "Pub/Sub names must follow the services' convention (hourglass-<type>, -worker, -dead)."
  }
  assert {
    condition     = output.control_topic == "hourglass-control" && output.control_subscription == "hourglass-control-checker"
    error_message = "Control topic and subscription names must follow the services' convention."
  }
  assert {
    condition     = output.bucket == "gs://hourglass-test-hourglass-events"
    error_message = "Default bucket name."
  }
  assert {
    condition     = keys(output.service_accounts) == ["checker", "gateway", "worker"]
    error_message = "One service account per service."
  }
}

run "first_apply_deploys_no_service" {
  command = plan

  variables {
    image_tag       = null
    bigquery_tables = false
  }

  assert {
    condition     = length(output.service_urls) == 0 && length(output.bigquery_tables) == 0
    error_message = "Without an image tag no Cloud Run service is planned; without bigquery_tables no table."
  }
}

run "no_table_before_a_type_has_a_closed_window" {
  command = plan

  override_data {
    target = module.hourglass.data.google_storage_bucket_objects.closed_windows["track_played"]
    values = { bucket_objects = [] }
  }

  assert {
    condition     = !contains(keys(output.bigquery_tables), "track_played") && length(output.bigquery_tables) == length(output.types) - 1
    error_message = "BigQuery cannot create an Avro table over no files: a type gets its table once a window closed."
  }
}

run "nothing_that_holds_events_is_deleted_by_age" {
  command = plan

  assert {
    condition     = jsonencode(module.hourglass.bucket_delete_rules) == jsonencode([{ age_days = 7, prefixes = ["checker/client-ids/"] }, { age_days = 30, prefixes = ["checker/announced/"] }])
    error_message = "By default no lifecycle rule may delete anything that holds events (staging/ is unproven data, dead letters are events to redrive); only the client-id digests and the announcement markers expire: ${jsonencode(module.hourglass.bucket_delete_rules)}"
  }
}

run "dead_letters_expire_only_when_asked" {
  command = plan

  variables {
    deadletter_expire_days = 90
  }

  assert {
    condition     = jsonencode(module.hourglass.bucket_delete_rules) == jsonencode([{ age_days = 7, prefixes = ["checker/client-ids/"] }, { age_days = 30, prefixes = ["checker/announced/"] }, { age_days = 90, prefixes = ["deadletter/"] }])
    error_message = "deadletter_expire_days deletes deadletter/ (undeliverable/ included) after that many days, and nothing else: ${jsonencode(module.hourglass.bucket_delete_rules)}"
  }
}


run "telemetry_sidecar_off_plans_too" {
  command = plan

  variables {
    telemetry_sidecar = false
  }

  assert {
    condition     = keys(output.service_urls) == ["checker", "gateway", "worker"]
    error_message = "Without the sidecar the three services are planned as before (the alerts fall back to the checker's log lines)."
  }
}
