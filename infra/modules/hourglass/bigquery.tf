# BigQuery external tables for analysts: one per type, over its closed hours only
# (gs://<bucket>/<type>/dt=…/hour=…/part-*.avro), with the hive keys as partition columns.
# The data stays in the bucket; dropping a table loses nothing.
#
# BigQuery reads an Avro table's schema from its files when the table is created, and refuses to
# create it over no files. So a type's table is created by the first apply after its first closed
# window: no list of "types with data" is kept by hand, and adding a type never fails an apply.

locals {
  # Hive keys of a closed window: dt and hour, plus minute= / second= for windows under an hour.
  hive_keys = concat(
    ["dt", "hour"],
    var.window_s < 3600 ? ["minute"] : [],
    var.window_s < 60 ? ["second"] : [],
  )
  hive_key_type      = { dt = "DATE", hour = "INTEGER", minute = "INTEGER", second = "INTEGER" }
  hive_uri_keys      = join("/", [for k in local.hive_keys : "{${k}:${local.hive_key_type[k]}}"])
  closed_window_glob = join("/", concat([for k in local.hive_keys : "${k}=*"], ["_SUCCESS"]))

  bigquery_table_types = {
    for t, c in local.types : t => c if var.bigquery_tables && length(try(data.google_storage_bucket_objects.closed_windows[t].bucket_objects, [])) > 0
  }
}

# Reads the bucket by its name, not from the bucket resource, so that the answer is known at plan
# time (for_each needs it). Needs the bucket to exist: hence bigquery_tables = false on a first apply.
data "google_storage_bucket_objects" "closed_windows" {
  for_each = var.bigquery_tables ? local.types : {}

  bucket     = local.bucket_name
  prefix     = "${each.key}/dt="
  match_glob = "${each.key}/${local.closed_window_glob}"
}

resource "google_bigquery_dataset" "events" {
  project     = var.project_id
  dataset_id  = var.bigquery_dataset_id
  location    = var.region
  description = "hourglass: closed hours of every event type, as external tables over gs://${local.bucket_name}."
  labels      = local.labels

  depends_on = [google_project_service.api]
}

resource "google_bigquery_table" "type" {
  for_each = local.bigquery_table_types

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.events.dataset_id
  table_id            = each.key
  description         = "${each.value.description} Owner: ${each.value.owner}. Closed hours only; filter on dt (and hour)."
  labels              = merge(local.labels, { event_type = each.key, tier = each.value.tier })
  deletion_protection = false

  external_data_configuration {
    # Avro files carry their schema; BigQuery reads it when the table is created.
    autodetect    = true
    source_format = "AVRO"
    # Only part files: _MANIFEST.json and _SUCCESS sit beside them.
    source_uris = ["gs://${google_storage_bucket.events.name}/${each.key}/*.avro"]

    avro_options {
      use_avro_logical_types = true
    }

    hive_partitioning_options {
      mode                     = "CUSTOM"
      source_uri_prefix        = "gs://${google_storage_bucket.events.name}/${each.key}/${local.hive_uri_keys}"
      require_partition_filter = true
    }
  }
}
