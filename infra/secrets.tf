# Secret containers; their values are added outside Terraform (infra/README.md):
#   gcloud secrets versions add grm-genesys-clients --project=P --data-file=clients.json
#   printf %s "$SENDGRID_API_KEY" | gcloud secrets versions add grm-sendgrid-api-key --project=P --data-file=-
# Replication is automatic unless secret_replica_locations names the regions
# the secrets may live in (for data-residency rules); with kms_key, the one
# region of the key.
locals {
  secrets = {
    genesys_clients  = "${local.prefix}genesys-clients"
    sendgrid_api_key = "${local.prefix}sendgrid-api-key"
  }
  # Who reads which secret: the Genesys clients are used by the planner
  # (discovery) and the worker (export); the planner emails about earlier days
  # (check-previous) and the checker about each day's outcome.
  secret_readers = {
    "genesys_clients/planner"  = { secret = "genesys_clients", sa = "planner" }
    "genesys_clients/worker"   = { secret = "genesys_clients", sa = "worker" }
    "sendgrid_api_key/planner" = { secret = "sendgrid_api_key", sa = "planner" }
    "sendgrid_api_key/checker" = { secret = "sendgrid_api_key", sa = "checker" }
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.value
  labels    = local.labels
  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = toset(var.secret_replica_locations)
          content {
            location = replicas.value
            dynamic "customer_managed_encryption" {
              for_each = local.cmek ? [1] : []
              content {
                kms_key_name = var.kms_key
              }
            }
          }
        }
      }
    }
  }
  lifecycle {
    # A user-managed replica needs a key of its own location, automatic
    # replication a global one; kms_key is regional.
    precondition {
      condition     = !local.cmek || (length(var.secret_replica_locations) > 0 && alltrue([for l in var.secret_replica_locations : l == local.kms_key_location]))
      error_message = "With kms_key, secret_replica_locations must be [\"${local.kms_key_location}\"], the key's location: Secret Manager needs a key in each replica's location (a global key for automatic replication)."
    }
  }
  depends_on = [google_project_service.apis, time_sleep.kms_grants]
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each  = local.secret_readers
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.sa[each.value.sa].member
}
