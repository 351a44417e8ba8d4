# Pub/Sub: per type a topic, the worker's subscription, and a dead-letter topic whose messages are
# archived under deadletter/<type>/ in the bucket; plus the heartbeat control topic and the
# checker's subscription. Names follow HOURGLASS_TOPIC_PREFIX (see main.tf).

resource "google_pubsub_topic" "type" {
  for_each = local.types

  project = var.project_id
  name    = local.topic_name[each.key]
  labels  = merge(local.labels, { event_type = each.key, tier = each.value.tier })

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dead" {
  for_each = local.types

  project = var.project_id
  name    = local.dead_topic_name[each.key]
  labels  = merge(local.labels, { event_type = each.key, tier = each.value.tier })

  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "worker" {
  for_each = local.types

  project = var.project_id
  name    = local.worker_subscription_name[each.key]
  topic   = google_pubsub_topic.type[each.key].id
  labels  = merge(local.labels, { event_type = each.key, tier = each.value.tier })

  ack_deadline_seconds       = var.subscription.ack_deadline_s
  message_retention_duration = "${var.subscription.retention_s}s"

  # A subscription the worker stops reading for a while must not vanish with its backlog.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "${var.subscription.min_backoff_s}s"
    maximum_backoff = "${var.subscription.max_backoff_s}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead[each.key].id
    max_delivery_attempts = var.subscription.max_delivery_attempts
  }

  # Pub/Sub's own agent must be allowed to forward to the dead-letter topic first.
  depends_on = [google_pubsub_topic_iam_member.pubsub_agent_dead_publisher]
}

# A topic without a subscription drops what is published to it, so every dead-letter topic is
# drained into the bucket by a Cloud Storage subscription: a dead-lettered message lands in the
# dead-letter area (DESIGN.md, promise 1) with its attributes (publisher, first seq, count, window).
resource "google_pubsub_subscription" "dead_archive" {
  for_each = local.types

  project = var.project_id
  name    = "${local.dead_topic_name[each.key]}-archive"
  topic   = google_pubsub_topic.dead[each.key].id
  labels  = merge(local.labels, { event_type = each.key, tier = each.value.tier })

  ack_deadline_seconds       = 300
  message_retention_duration = "${var.subscription.retention_s}s"

  expiration_policy {
    ttl = ""
  }

  cloud_storage_config {
    bucket          = google_storage_bucket.events.name
    filename_prefix = "deadletter/${each.key}/undeliverable/"
    filename_suffix = ".avro"
    max_duration    = "300s"

    avro_config {
      write_metadata = true
    }
  }

  depends_on = [
    google_storage_bucket_iam_member.pubsub_agent_deadletter_writer,
    google_storage_bucket_iam_member.pubsub_agent_bucket_reader,
  ]
}

resource "google_pubsub_topic" "control" {
  project = var.project_id
  name    = local.control_topic_name
  labels  = local.labels

  depends_on = [google_project_service.api]
}

# One event per closed window (services/wire/window-closed-event.ts), ordered by type, for schedulers and
# anyone who waits on an hour; consumers make their own subscriptions (see closed_window_subscribers).
resource "google_pubsub_topic" "closed_windows" {
  project = var.project_id
  name    = local.closed_windows_topic
  labels  = local.labels

  # A consumer whose subscription is new can seek back and see the last week's closes.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "control_checker" {
  project = var.project_id
  name    = local.control_subscription
  topic   = google_pubsub_topic.control.id
  labels  = local.labels

  ack_deadline_seconds       = 30
  message_retention_duration = "${var.control_retention_s}s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }
}

# Staged notices (services/wire/staged-notice.ts): a worker publishes one per staged file, so the checker learns of
# it without listing the bucket every round. Hints only: a lost one costs a listing (the checker relists every
# HOURGLASS_CHECKER_STAGING_RELIST_S, and decides a close only on a listing), never an event.
resource "google_pubsub_topic" "staged" {
  project = var.project_id
  name    = local.staged_topic
  labels  = local.labels

  depends_on = [google_project_service.api]
}

# Notice slots: one subscription per checker replica that can run; a replica reads the slot of its rank among the
# live replicas, so every replica sees every notice (a shared subscription would give each to one replica).
resource "google_pubsub_subscription" "staged_checker" {
  count = local.notice_slots

  project = var.project_id
  name    = "${var.topic_prefix}staged-checker-${count.index}"
  topic   = google_pubsub_topic.staged.id
  labels  = local.labels

  ack_deadline_seconds = 10
  # A notice older than the checker's relist interval is worth nothing: the shortest retention Pub/Sub allows.
  message_retention_duration = "600s"

  # A slot unread while fewer replicas run must stay for when more do.
  expiration_policy {
    ttl = ""
  }
}
