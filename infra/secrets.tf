# Secret containers; their values are added outside Terraform:
#   gcloud secrets versions add grm-genesys-clients --data-file=clients.json
#   printf %s "$SENDGRID_API_KEY" | gcloud secrets versions add grm-sendgrid-api-key --data-file=-
resource "google_secret_manager_secret" "genesys_clients" {
  secret_id = "${local.prefix}genesys-clients"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "genesys_clients" {
  for_each  = { planner = google_service_account.planner.member, worker = google_service_account.worker.member }
  secret_id = google_secret_manager_secret.genesys_clients.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_secret_manager_secret" "sendgrid_api_key" {
  secret_id = "${local.prefix}sendgrid-api-key"
  replication {
    auto {}
  }
}

# The planner emails about earlier days (check-previous); the checker about each day's outcome.
resource "google_secret_manager_secret_iam_member" "sendgrid_api_key" {
  for_each  = { planner = google_service_account.planner.member, checker = google_service_account.checker.member }
  secret_id = google_secret_manager_secret.sendgrid_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}
