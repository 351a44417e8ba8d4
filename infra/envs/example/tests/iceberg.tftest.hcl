# `terraform test` of the Iceberg tables (modules/hourglass/tables.tf), run by scripts/infra-validate.sh
# beside plan.tftest.hcl: a plan against a mocked google provider, no credentials. Enabled, the committer
# gets its subscription, account, grants and service, and the warehouse its bucket, BigLake catalog and
# namespace; disabled (the default), none of them exists. A type opts in with "table": true in its
# type.json: the module runs read fixtures/iceberg-schemas/, where track_played and search_performed do
# and ui_interaction does not.

mock_provider "google" {
  mock_data "google_project" {
    defaults = { number = "123456789012" }
  }
  mock_data "google_storage_bucket_objects" {
    defaults = { bucket_objects = [{ name = "t/dt=2026-01-01/hour=00/_SUCCESS" }] }
  }
  mock_data "google_storage_project_service_account" {
    defaults = { member = "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com" }
  }
}

variables {
  project_id      = "hourglass-test"
  image_tag       = "test"
  bigquery_tables = true
  analyst_members = ["group:analysts@example.com"]
}

run "iceberg_tables_off_by_default" {
  command = plan

  assert {
    condition     = output.iceberg_tables == null && !contains(keys(output.service_accounts), "table") && !contains(keys(output.service_urls), "table")
    error_message = "Iceberg tables are opt-in: no committer account, service or tables output unless iceberg_tables.enabled."
  }
}

run "iceberg_tables_on_in_the_environment" {
  command = plan

  variables {
    iceberg_tables = { enabled = true }
  }

  override_resource {
    target          = module.hourglass.google_service_account.table
    override_during = plan
    values          = { email = "hourglass-tables@hourglass-test.iam.gserviceaccount.com", member = "serviceAccount:hourglass-tables@hourglass-test.iam.gserviceaccount.com" }
  }

  assert {
    condition     = output.service_accounts["table"] == "hourglass-tables@hourglass-test.iam.gserviceaccount.com" && contains(keys(output.service_urls), "table")
    error_message = "iceberg_tables.enabled (with an image tag) deploys the committer as its own account, among the service URLs."
  }
  assert {
    condition     = output.iceberg_tables.warehouse == "gs://hourglass-test-hourglass-tables" && output.iceberg_tables.catalog == "hourglass-test-hourglass-tables" && output.iceberg_tables.namespace == "hourglass" && output.iceberg_tables.subscription == "hourglass-closed-windows-tables"
    error_message = "Default warehouse bucket, catalog (named as the bucket), namespace and subscription: ${jsonencode(output.iceberg_tables)}"
  }
  assert {
    condition     = output.iceberg_tables.bigquery_prefix == "hourglass-test.hourglass-test-hourglass-tables.hourglass"
    error_message = "BigQuery reads the tables as <project>.<catalog>.<namespace>.<type>."
  }
}

# The hourglass module itself, so that the resources can be read (an environment sees only outputs).
run "iceberg_tables_enabled" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region         = "europe-west1"
    schemas_dir    = "tests/fixtures/iceberg-schemas"
    iceberg_tables = { enabled = true }
  }

  override_resource {
    target          = google_service_account.table
    override_during = plan
    values          = { email = "hourglass-tables@hourglass-test.iam.gserviceaccount.com", member = "serviceAccount:hourglass-tables@hourglass-test.iam.gserviceaccount.com" }
  }

  assert {
    condition     = output.iceberg_tables.types == tolist(["search_performed", "track_played"])
    error_message = "The types whose type.json says \"table\": true get a table, and no other: ${jsonencode(output.iceberg_tables.types)}"
  }

  # The subscription: the closed-windows topic, ordered, 600 s, dead-lettered, never expiring.
  assert {
    condition     = length(google_pubsub_subscription.closed_windows_tables) == 1 && google_pubsub_subscription.closed_windows_tables[0].name == "hourglass-closed-windows-tables" && google_pubsub_subscription.closed_windows_tables[0].enable_message_ordering == true && google_pubsub_subscription.closed_windows_tables[0].ack_deadline_seconds == 600
    error_message = "The committer's subscription hourglass-closed-windows-tables, with message ordering and a 600 s ack deadline."
  }
  assert {
    condition     = length(google_pubsub_subscription.closed_windows_tables[0].dead_letter_policy) == 1 && google_pubsub_subscription.closed_windows_tables[0].dead_letter_policy[0].max_delivery_attempts == 10 && google_pubsub_topic.closed_windows_tables_dead[0].name == "hourglass-closed-windows-tables-dead" && google_pubsub_subscription.closed_windows_tables_dead_hold[0].name == "hourglass-closed-windows-tables-dead-hold" && google_pubsub_subscription.closed_windows_tables[0].expiration_policy[0].ttl == ""
    error_message = "The subscription dead-letters after 10 deliveries to hourglass-closed-windows-tables-dead, which a hold subscription keeps; it never expires."
  }
  assert {
    condition     = google_pubsub_topic_iam_member.pubsub_agent_tables_dead_publisher[0].member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com" && google_pubsub_subscription_iam_member.pubsub_agent_tables_subscriber[0].role == "roles/pubsub.subscriber"
    error_message = "Pub/Sub's service agent may forward dead letters and ack them on the committer's subscription."
  }

  # The committer's account and its grants, each on the narrowest resource.
  assert {
    condition     = length(google_service_account.table) == 1 && google_service_account.table[0].account_id == "hourglass-tables"
    error_message = "One service account for the committer: hourglass-tables."
  }
  assert {
    condition     = google_pubsub_subscription_iam_member.table_subscribe[0].role == "roles/pubsub.subscriber" && google_pubsub_subscription_iam_member.table_subscribe[0].subscription == "hourglass-closed-windows-tables" && google_pubsub_subscription_iam_member.table_subscribe[0].member == "serviceAccount:hourglass-tables@hourglass-test.iam.gserviceaccount.com"
    error_message = "The committer subscribes to its own subscription."
  }
  assert {
    condition = (
      google_storage_bucket_iam_member.table_read_closed_hours[0].role == "roles/storage.objectViewer"
      && google_storage_bucket_iam_member.table_read_closed_hours[0].bucket == "hourglass-test-hourglass-events"
      && strcontains(google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression, "objects/track_played/")
      && strcontains(google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression, "objects/search_performed/")
      && !strcontains(google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression, "objects/ui_interaction/")
      && !strcontains(google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression, "staging/")
    )
    error_message = "The committer reads the event bucket (objectViewer), only the closed hours of the opted-in types: ${google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression}"
  }
  assert {
    condition     = google_storage_bucket_iam_member.table_warehouse[0].role == "roles/storage.objectUser" && google_storage_bucket_iam_member.table_warehouse[0].bucket == "hourglass-test-hourglass-tables"
    error_message = "The committer creates, reads and deletes objects in the warehouse bucket (objectUser)."
  }
  assert {
    condition     = google_biglake_iceberg_catalog_iam_member.table_editor[0].role == "roles/biglake.editor" && google_biglake_iceberg_catalog_iam_member.table_editor[0].name == "hourglass-test-hourglass-tables" && google_biglake_iceberg_catalog_iam_member.table_editor[0].member == "serviceAccount:hourglass-tables@hourglass-test.iam.gserviceaccount.com"
    error_message = "The committer is BigLake editor on its catalog only."
  }
  assert {
    condition     = google_project_iam_member.table_usage_consumer[0].role == "roles/serviceusage.serviceUsageConsumer" && google_project_iam_member.table_usage_consumer[0].project == "hourglass-test"
    error_message = "The committer may name the project in X-Goog-User-Project (serviceusage.services.use)."
  }

  # The warehouse: bucket, catalog named as the bucket, namespace.
  assert {
    condition     = length(google_storage_bucket.warehouse) == 1 && google_storage_bucket.warehouse[0].name == "hourglass-test-hourglass-tables" && google_storage_bucket.warehouse[0].uniform_bucket_level_access == true && google_storage_bucket.warehouse[0].location == google_storage_bucket.events.location && google_storage_bucket.warehouse[0].public_access_prevention == "enforced"
    error_message = "The warehouse bucket: uniform access, no public access, the event bucket's location."
  }
  assert {
    condition     = length(google_biglake_iceberg_catalog.tables) == 1 && google_biglake_iceberg_catalog.tables[0].name == google_storage_bucket.warehouse[0].name && google_biglake_iceberg_catalog.tables[0].catalog_type == "CATALOG_TYPE_GCS_BUCKET" && google_biglake_iceberg_catalog.tables[0].credential_mode == "CREDENTIAL_MODE_END_USER" && google_biglake_iceberg_catalog.tables[0].deletion_policy == "PREVENT"
    error_message = "The BigLake Iceberg catalog of the warehouse bucket (named as the bucket), end-user credentials, protected with protect_data."
  }
  assert {
    condition     = google_biglake_iceberg_namespace.tables[0].namespace_id == "hourglass" && google_biglake_iceberg_namespace.tables[0].catalog == "hourglass-test-hourglass-tables"
    error_message = "The namespace hourglass in the catalog."
  }
  assert {
    condition     = contains(keys(google_project_service.api), "biglake.googleapis.com")
    error_message = "The BigLake API is enabled with Iceberg tables."
  }

  # Analysts read the tables through BigQuery.
  assert {
    condition     = keys(google_biglake_iceberg_catalog_iam_member.analysts) == ["group:analysts@example.com"] && google_biglake_iceberg_catalog_iam_member.analysts["group:analysts@example.com"].role == "roles/biglake.viewer" && google_storage_bucket_iam_member.analysts_warehouse["group:analysts@example.com"].role == "roles/storage.objectViewer"
    error_message = "Analysts are BigLake viewers of the catalog and object viewers of the warehouse bucket."
  }

  # The committer's Cloud Run service and the alert.
  assert {
    condition     = length(module.table_committer) == 1 && length(google_monitoring_alert_policy.table_commits) == 1
    error_message = "With an image tag the committer is deployed, and its backlog alerts."
  }
  assert {
    condition = (
      local.table_env["HOURGLASS_TABLE_CATALOG_URI"] == "https://biglake.googleapis.com/iceberg/v1/restcatalog"
      && local.table_env["HOURGLASS_TABLE_WAREHOUSE"] == "gs://hourglass-test-hourglass-tables"
      && local.table_env["HOURGLASS_TABLE_NAMESPACE"] == "hourglass"
      && local.table_env["HOURGLASS_TABLE_SUBSCRIPTION"] == "hourglass-closed-windows-tables"
      && local.table_env["HOURGLASS_PROJECT"] == "hourglass-test"
      && local.table_env["HOURGLASS_BUCKET"] == "gs://hourglass-test-hourglass-events"
      && local.table_env["HOURGLASS_MODE"] == "cloud"
    )
    error_message = "The committer's environment: catalog URI, warehouse, namespace, subscription, and the shared settings (the opted-in types it reads from type.json): ${jsonencode(local.table_env)}"
  }
}

run "iceberg_tables_disabled_creates_nothing" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region      = "europe-west1"
    schemas_dir = "../../../schemas"
  }

  assert {
    condition = (
      length(google_storage_bucket.warehouse) == 0
      && length(google_biglake_iceberg_catalog.tables) == 0
      && length(google_biglake_iceberg_namespace.tables) == 0
      && length(google_pubsub_subscription.closed_windows_tables) == 0
      && length(google_pubsub_topic.closed_windows_tables_dead) == 0
      && length(google_pubsub_subscription.closed_windows_tables_dead_hold) == 0
      && length(google_service_account.table) == 0
      && length(google_pubsub_subscription_iam_member.table_subscribe) == 0
      && length(google_storage_bucket_iam_member.table_read_closed_hours) == 0
      && length(google_storage_bucket_iam_member.table_warehouse) == 0
      && length(google_biglake_iceberg_catalog_iam_member.table_editor) == 0
      && length(google_project_iam_member.table_usage_consumer) == 0
      && length(google_biglake_iceberg_catalog_iam_member.analysts) == 0
      && length(google_storage_bucket_iam_member.analysts_warehouse) == 0
      && length(module.table_committer) == 0
      && length(google_monitoring_alert_policy.table_commits) == 0
    )
    error_message = "Without iceberg_tables.enabled: no warehouse, catalog, namespace, subscription, account, grant, service or alert."
  }
  assert {
    condition     = !contains(keys(google_project_service.api), "biglake.googleapis.com")
    error_message = "No BigLake API without Iceberg tables."
  }
}

run "iceberg_tables_existing_bucket" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region         = "europe-west1"
    schemas_dir    = "tests/fixtures/iceberg-schemas"
    image_tag      = null
    protect_data   = false
    iceberg_tables = { enabled = true, warehouse_bucket = "acme-lake", create_bucket = false, namespace = "events" }
  }

  assert {
    condition     = length(google_storage_bucket.warehouse) == 0 && google_biglake_iceberg_catalog.tables[0].name == "acme-lake" && google_biglake_iceberg_catalog.tables[0].deletion_policy == "DELETE" && google_storage_bucket_iam_member.table_warehouse[0].bucket == "acme-lake" && google_biglake_iceberg_namespace.tables[0].namespace_id == "events"
    error_message = "create_bucket = false: no bucket is created; the catalog, its namespace and the grants use the named one."
  }
  assert {
    condition     = length(module.table_committer) == 0 && length(google_service_account.table) == 1
    error_message = "Without an image tag the committer's account and grants exist, but no service yet."
  }
}

run "iceberg_tables_with_no_type_opted_in" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region         = "europe-west1"
    schemas_dir    = "tests/fixtures/no-table-schemas"
    iceberg_tables = { enabled = true }
  }

  assert {
    condition     = length(output.iceberg_tables.types) == 0 && length(google_biglake_iceberg_catalog.tables) == 1 && length(google_service_account.table) == 1 && google_storage_bucket_iam_member.table_read_closed_hours[0].condition[0].expression == "resource.type == \"storage.googleapis.com/Bucket\""
    error_message = "Enabled with no type opted in: the warehouse and the committer exist, and it may read no object of the event bucket."
  }
}

run "iceberg_tables_refuse_a_bad_namespace" {
  command = plan

  module {
    source = "../../modules/hourglass"
  }

  variables {
    region         = "europe-west1"
    schemas_dir    = "tests/fixtures/iceberg-schemas"
    iceberg_tables = { enabled = true, namespace = "Hourglass-Events" }
  }

  expect_failures = [var.iceberg_tables]
}

# The Cloud Run module runs the committer as services/table/main.ts, internal only.
run "cloud_run_service_runs_the_table_committer" {
  command = plan

  module {
    source = "../../modules/cloud-run-service"
  }

  variables {
    region                = "europe-west1"
    name                  = "hourglass-tables"
    service               = "table"
    image                 = "europe-west1-docker.pkg.dev/hourglass-test/hourglass/hourglass:test"
    service_account_email = "hourglass-tables@hourglass-test.iam.gserviceaccount.com"
    min_instances         = 1
    max_instances         = 1
  }

  assert {
    condition     = one(google_cloud_run_v2_service.this.template[0].containers[0].args) == "services/table/main.ts" && google_cloud_run_v2_service.this.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY" && google_cloud_run_v2_service.this.template[0].containers[0].resources[0].cpu_idle == false
    error_message = "The committer runs services/table/main.ts, internal only, with CPU between requests."
  }
}
