# Secret containers; their values are added outside Terraform:
#   gcloud secrets versions add grm-genesys-clients --data-file=clients.json
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
