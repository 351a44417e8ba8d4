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

run "console_behind_iap" {
  command = plan

  variables {
    console = { enabled = true, members = ["group:event-ops@example.com"] }
  }

  override_resource {
    target          = module.hourglass.google_service_account.console
    override_during = plan
    values          = { email = "hourglass-console@hourglass-test.iam.gserviceaccount.com", member = "serviceAccount:hourglass-console@hourglass-test.iam.gserviceaccount.com" }
  }

  assert {
    condition     = output.service_accounts["console"] == "hourglass-console@hourglass-test.iam.gserviceaccount.com" && contains(keys(output.service_urls), "console")
    error_message = "console.enabled deploys the console as its own service account, among the service URLs."
  }
}

run "console_is_off_by_default" {
  command = plan

  assert {
    condition     = output.console_url == null && !contains(keys(output.service_accounts), "console")
    error_message = "The console is opt-in: no service account and no service unless console.enabled."
  }
}

# The hourglass module itself, so that the console's grants can be read (an environment sees only outputs).
run "console_grants" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region      = "europe-west1"
    schemas_dir = "../../../schemas"
    console     = { enabled = true, members = ["group:event-ops@example.com", "user:jane@example.com"] }
  }

  override_resource {
    target          = google_service_account.console
    override_during = plan
    values          = { email = "hourglass-console@hourglass-test.iam.gserviceaccount.com", member = "serviceAccount:hourglass-console@hourglass-test.iam.gserviceaccount.com" }
  }

  assert {
    condition     = length(google_storage_bucket_iam_member.console_read) == 1 && google_storage_bucket_iam_member.console_read[0].role == "roles/storage.objectViewer" && google_storage_bucket_iam_member.console_read[0].member == "serviceAccount:hourglass-console@hourglass-test.iam.gserviceaccount.com"
    error_message = "The console's account reads the bucket's objects (objectViewer), nothing more."
  }
  assert {
    condition     = toset(keys(google_iap_web_cloud_run_service_iam_member.console_members)) == toset(["group:event-ops@example.com", "user:jane@example.com"]) && alltrue([for m in google_iap_web_cloud_run_service_iam_member.console_members : m.role == "roles/iap.httpsResourceAccessor" && m.cloud_run_service_name == "hourglass-console"])
    error_message = "Behind IAP, every console member gets roles/iap.httpsResourceAccessor on the console."
  }
  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.console_iap_invoker) == 1 && google_cloud_run_v2_service_iam_member.console_iap_invoker[0].member == "serviceAccount:service-123456789012@gcp-sa-iap.iam.gserviceaccount.com" && google_cloud_run_v2_service_iam_member.console_iap_invoker[0].role == "roles/run.invoker" && length(google_cloud_run_v2_service_iam_member.console_members_invoker) == 0
    error_message = "Behind IAP, only IAP's service agent may invoke the console."
  }
  assert {
    condition     = contains(keys(google_project_service.api), "iap.googleapis.com")
    error_message = "The IAP API is enabled with the console behind IAP."
  }
}

run "console_internal_without_iap" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region      = "europe-west1"
    schemas_dir = "../../../schemas"
    console     = { enabled = true, iap = false, members = ["group:event-ops@example.com"] }
  }

  assert {
    condition     = length(google_iap_web_cloud_run_service_iam_member.console_members) == 0 && length(google_cloud_run_v2_service_iam_member.console_iap_invoker) == 0 && keys(google_cloud_run_v2_service_iam_member.console_members_invoker) == ["group:event-ops@example.com"]
    error_message = "Without IAP, no IAP grant: the members invoke the (internal) console themselves."
  }
  assert {
    condition     = !contains(keys(google_project_service.api), "iap.googleapis.com")
    error_message = "No IAP API without IAP."
  }
}

run "console_members_are_never_public" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region      = "europe-west1"
    schemas_dir = "../../../schemas"
    console     = { enabled = true, members = ["group:event-ops@example.com", "allUsers"] }
  }

  expect_failures = [var.console]
}

# The Cloud Run module on its own: what iap and public do to the service.
run "cloud_run_service_behind_iap" {
  command = plan

  module {
    source = "../../modules/cloud-run-service"
  }

  variables {
    region                = "europe-west1"
    name                  = "hourglass-console"
    service               = "console"
    image                 = "europe-west1-docker.pkg.dev/hourglass-test/hourglass/hourglass:test"
    service_account_email = "hourglass-console@hourglass-test.iam.gserviceaccount.com"
    iap                   = true
    cpu_always            = false
    min_instances         = 0
    max_instances         = 1
  }

  assert {
    condition     = google_cloud_run_v2_service.this.iap_enabled == true && google_cloud_run_v2_service.this.ingress == "INGRESS_TRAFFIC_ALL" && google_cloud_run_v2_service.this.invoker_iam_disabled == false
    error_message = "Behind IAP: all ingress, IAP on, and Cloud Run's IAM check kept (IAP's agent passes it)."
  }
  assert {
    condition     = one(google_cloud_run_v2_service.this.template[0].containers[0].args) == "services/console/main.ts" && google_cloud_run_v2_service.this.template[0].containers[0].startup_probe[0].http_get[0].path == "/health/live" && google_cloud_run_v2_service.this.template[0].containers[0].liveness_probe[0].http_get[0].path == "/health/live"
    error_message = "The console runs services/console/main.ts and is probed on /health/live."
  }
}

run "cloud_run_service_without_iap_is_internal" {
  command = plan

  module {
    source = "../../modules/cloud-run-service"
  }

  variables {
    region                = "europe-west1"
    name                  = "hourglass-console"
    service               = "console"
    image                 = "europe-west1-docker.pkg.dev/hourglass-test/hourglass/hourglass:test"
    service_account_email = "hourglass-console@hourglass-test.iam.gserviceaccount.com"
    min_instances         = 0
    max_instances         = 1
  }

  assert {
    condition     = google_cloud_run_v2_service.this.iap_enabled == false && google_cloud_run_v2_service.this.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY" && google_cloud_run_v2_service.this.invoker_iam_disabled == false
    error_message = "Without IAP (and not public): internal traffic only, IAM-checked invocation."
  }
}

run "cloud_run_service_iap_is_not_public" {
  command = plan

  module {
    source = "../../modules/cloud-run-service"
  }

  variables {
    region                = "europe-west1"
    name                  = "hourglass-console"
    service               = "console"
    image                 = "europe-west1-docker.pkg.dev/hourglass-test/hourglass/hourglass:test"
    service_account_email = "hourglass-console@hourglass-test.iam.gserviceaccount.com"
    iap                   = true
    public                = true
    min_instances         = 0
    max_instances         = 1
  }

  expect_failures = [var.iap]
}
