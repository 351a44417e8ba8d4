# The event-type registry as Terraform sees it: one entry per schemas/<type>/type.json.
# No list is kept by hand: adding a folder with a type.json adds the type's topic, subscription,
# dead-letter path, BigQuery table and alerts on the next plan. Declares no resources and needs no
# provider, so it can be evaluated offline (test/infra/ does, with `terraform console`).

terraform {
  required_version = ">= 1.9"
}

variable "schemas_dir" {
  description = "Path of the schemas/ folder (one sub-folder per event type, each with type.json)."
  type        = string
}

locals {
  # The pattern test/infra/ evaluates too: keep the two in step.
  type_files = fileset(var.schemas_dir, "*/type.json")

  raw = { for f in local.type_files : dirname(f) => jsondecode(file("${var.schemas_dir}/${f}")) }

  # One fixed shape, so a type.json with extra or missing optional keys cannot change the map's type.
  types = {
    for name, c in local.raw : name => {
      tier             = tostring(try(c.tier, ""))
      owner            = tostring(try(c.owner, ""))
      description      = tostring(try(c.description, ""))
      livenessTimeoutS = tonumber(try(c.livenessTimeoutS, 30))
      maxWaitS         = tonumber(try(c.maxWaitS, 900))
      # "table": true opts the type in to an Apache Iceberg table (hourglass module, tables.tf).
      table = try(c.table, false) == true
    }
  }

  bad_names = [for name in keys(local.types) : name if !can(regex("^[a-z][a-z0-9_]{0,62}$", name))]
  # Top-level prefixes of the bucket layout: a type of that name would collide with them.
  reserved_names = ["staging", "late", "deadletter", "checker", "control"]
  bad_reserved   = [for name in keys(local.types) : name if contains(local.reserved_names, name)]
  bad_tiers      = [for name, t in local.types : name if !contains(["high", "normal", "low"], t.tier)]
  bad_tables     = [for name, c in local.raw : name if !(try(c.table, false) == true || try(c.table, false) == false)]
}

output "types" {
  description = "Map of event type name to its type.json (owner, tier, livenessTimeoutS, maxWaitS, description, table)."
  value       = local.types

  precondition {
    condition     = length(local.types) > 0
    error_message = "No event types: ${var.schemas_dir} holds no */type.json."
  }
  precondition {
    condition     = length(local.bad_names) == 0
    error_message = "Event type names must match ^[a-z][a-z0-9_]{0,62}$: ${join(", ", local.bad_names)}."
  }
  precondition {
    condition     = length(local.bad_reserved) == 0
    error_message = "Event type names ${join(", ", local.reserved_names)} are reserved: ${join(", ", local.bad_reserved)}."
  }
  precondition {
    condition     = length(local.bad_tiers) == 0
    error_message = "Event type tier must be high, normal or low: ${join(", ", local.bad_tiers)}."
  }
  precondition {
    condition     = length(local.bad_tables) == 0
    error_message = "Event type \"table\" must be true or false: ${join(", ", local.bad_tables)}."
  }
}
