# The status console (services/console): a read-only page of the bucket's windows, types and losses,
# for people. Optional (var.console.enabled, off by default); deployed like the other services from
# the one image once var.image_tag is set, but request-driven: no CPU between requests, scales to zero,
# no telemetry sidecar (it exports no metrics), and no deletion protection (it holds nothing, so
# turning it off removes it).
#
# Who reaches it:
#   iap = true (the default)  Cloud Run's own IAP integration (iap_enabled) on the run.app URL, all
#                             ingress: IAP signs users in and lets console.members through
#                             (roles/iap.httpsResourceAccessor on the service), then calls the service
#                             as its service agent, which holds roles/run.invoker on it and nothing else.
#   iap = false               internal traffic only; console.members hold roles/run.invoker (a request
#                             from inside the project's network with their identity token). Never public.
# Its service account reads objects of the event bucket (roles/storage.objectViewer) and nothing else;
# test/infra/iam.test.ts and test/infra/console.test.ts hold it to that.

locals {
  console_deployed = var.console.enabled && var.image_tag != null

  # The IAP service agent: IAP calls an IAP-enabled Cloud Run service as this account.
  iap_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"

  console_env = {
    HOURGLASS_PROJECT      = var.project_id
    HOURGLASS_BUCKET       = "gs://${google_storage_bucket.events.name}"
    HOURGLASS_WINDOW_S     = tostring(var.window_s)
    HOURGLASS_CONSOLE_HOST = "0.0.0.0" # its default, 127.0.0.1, is unreachable on Cloud Run; the port is PORT
  }
}

resource "google_service_account" "console" {
  count = var.console.enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-console"
  display_name = "hourglass console (reads the bucket)"

  depends_on = [google_project_service.api]
}

# Lists and reads objects (the status page, manifests); no write, no delete, no bucket or IAM rights.
resource "google_storage_bucket_iam_member" "console_read" {
  count = var.console.enabled ? 1 : 0

  bucket = google_storage_bucket.events.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.console[0].member
}

module "console" {
  source = "../cloud-run-service"
  count  = local.console_deployed ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name}-console"
  service               = "console"
  image                 = local.image
  service_account_email = google_service_account.console[0].email
  iap                   = var.console.iap
  cpu_always            = false # it works only while answering a request
  min_instances         = 0
  max_instances         = var.console.max_instances
  env                   = local.console_env
  deletion_protection   = false
  labels                = local.labels

  depends_on = [google_storage_bucket_iam_member.console_read]
}

# --- iap = true: IAP lets the members in, and calls the service as its service agent ---------------

resource "google_iap_web_cloud_run_service_iam_member" "console_members" {
  for_each = local.console_deployed && var.console.iap ? toset(var.console.members) : toset([])

  project                = var.project_id
  location               = var.region
  cloud_run_service_name = module.console[0].name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.key
}

resource "google_cloud_run_v2_service_iam_member" "console_iap_invoker" {
  count = local.console_deployed && var.console.iap ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = module.console[0].name
  role     = "roles/run.invoker"
  member   = local.iap_agent
}

# --- iap = false: internal only, the members invoke it with their identity token ----------------------

resource "google_cloud_run_v2_service_iam_member" "console_members_invoker" {
  for_each = local.console_deployed && !var.console.iap ? toset(var.console.members) : toset([])

  project  = var.project_id
  location = var.region
  name     = module.console[0].name
  role     = "roles/run.invoker"
  member   = each.key
}
