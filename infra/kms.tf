# Customer-managed encryption (kms_key): the Google service agents that
# encrypt and decrypt with the key on this deployment's behalf, each granted
# roles/cloudkms.cryptoKeyEncrypterDecrypter on the key, and Eventarc's
# per-region setting for the checker's events. Everything that uses the key
# waits for these grants (time_sleep.kms_grants); infra/README.md,
# "Compliance options", lists what the key covers and what it does not.
locals {
  cmek             = var.kms_key != ""
  kms_key_location = local.cmek ? split("/", var.kms_key)[3] : ""
  # Agents Terraform makes exist before granting them anything; the others
  # exist once their API is on (Cloud Functions, Cloud Run) or are read at
  # plan time (Cloud Storage), Pub/Sub's is created in main.tf and
  # Eventarc's in service-accounts.tf (on every configuration).
  kms_agent_services = toset(["artifactregistry.googleapis.com", "secretmanager.googleapis.com"])
  # Who needs the key, for what. The agents of kms_agent_services exist
  # only with kms_key (hence try: this map is evaluated either way, and
  # used only then).
  kms_agent_members = {
    # Both buckets' objects, and the functions' sources in Cloud Functions' own bucket.
    storage = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
    # The batches and dead-letter topics, and Eventarc's transport topic.
    pubsub = "serviceAccount:${google_project_service_identity.pubsub.email}"
    # The Genesys clients and the SendGrid key.
    secretmanager = try("serviceAccount:${google_project_service_identity.kms["secretmanager.googleapis.com"].email}", null)
    # The functions' images in grm-functions.
    artifactregistry = try("serviceAccount:${google_project_service_identity.kms["artifactregistry.googleapis.com"].email}", null)
    # The checker's events (google_eventarc_google_channel_config).
    eventarc = "serviceAccount:${google_project_service_identity.eventarc.email}"
    # The functions themselves (Cloud Functions' and Cloud Run's agents, as
    # Google's CMEK page for Cloud Run functions names them).
    cloudfunctions = "serviceAccount:service-${data.google_project.this.number}@gcf-admin-robot.iam.gserviceaccount.com"
    cloudrun       = "serviceAccount:service-${data.google_project.this.number}@serverless-robot-prod.iam.gserviceaccount.com"
  }
  kms_agents = local.cmek ? local.kms_agent_members : {}
}

# Eventarc's agent used to be created here, with kms_key only.
moved {
  from = google_project_service_identity.kms["eventarc.googleapis.com"]
  to   = google_project_service_identity.eventarc
}

resource "google_project_service_identity" "kms" {
  for_each   = local.cmek ? local.kms_agent_services : toset([])
  provider   = google-beta
  project    = var.project_id
  service    = each.value
  depends_on = [google_project_service.apis]
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each      = local.kms_agents
  crypto_key_id = var.kms_key
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
  depends_on    = [google_project_service.apis]
}

# IAM grants take a while to be seen everywhere (build.tf waits likewise);
# a bucket or topic created at once with the key could be refused.
resource "time_sleep" "kms_grants" {
  count           = local.cmek ? 1 : 0
  create_duration = "60s"
  depends_on      = [google_kms_crypto_key_iam_member.agents]
}

# Eventarc's events from Google sources in the region (the checker's
# object-finalize events), which Cloud Functions' CMEK page requires for
# event-driven functions.
resource "google_eventarc_google_channel_config" "kms" {
  count           = local.cmek ? 1 : 0
  project         = var.project_id
  location        = var.region
  name            = "projects/${var.project_id}/locations/${var.region}/googleChannelConfig"
  crypto_key_name = var.kms_key
  depends_on      = [time_sleep.kms_grants]
}
