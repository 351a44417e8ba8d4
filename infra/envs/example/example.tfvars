# Example environment. Copy to <env>.tfvars and edit; pass with -var-file.
project_id = "acme-events-prod"
region     = "europe-west1"

# First apply: leave image_tag unset (no image exists yet). Then push an image and set its tag;
# Cloud Build passes -var image_tag=$SHORT_SHA instead.
# image_tag = "3f2a9c1"

# From the second apply on (the bucket exists): each type gets its BigQuery table once it has a
# closed window, since BigQuery reads the table's schema from the files.
# bigquery_tables = true

services = {
  gateway = { min_instances = 1, max_instances = 20 }
  worker  = { min_instances = 2, max_instances = 20, cpu = "2", memory = "2Gi" }
  checker = { min_instances = 1, max_instances = 2, memory = "1Gi" }
}

analyst_members = ["group:event-analysts@acme.example"]

# gcloud beta monitoring channels list --format='value(name)'
notification_channels = []

# kms_key_name = "projects/acme-kms/locations/europe-west1/keyRings/hourglass/cryptoKeys/events"

# The status console behind Identity-Aware Proxy (docs/deploy.md, "The status console"): who may
# open it. Its URL is the output console_url.
# console = {
#   enabled = true
#   members = ["group:event-ops@acme.example"]
# }

# Iceberg tables in BigLake's Iceberg REST catalog, one per type whose type.json says "table": true,
# kept by the table committer (docs/deploy.md, "Iceberg tables on Google Cloud"). Off until the image
# holds services/table/.
# iceberg_tables = {
#   enabled = true
# }
