# Identities: one service account per function, one that builds them, one
# each for Cloud Scheduler, Pub/Sub push and the Eventarc trigger. Project-level
# roles are only those that exist at no narrower level (writing logs, and
# what Eventarc's Cloud Storage triggers require); everything else is granted
# on the resource it is about.
locals {
  service_accounts = {
    planner   = "genesys-recording-migrator planner"
    worker    = "genesys-recording-migrator batch worker"
    checker   = "genesys-recording-migrator completeness checker"
    build     = "genesys-recording-migrator function builds"
    eventarc  = "Eventarc trigger identity for the checker"
    scheduler = "Cloud Scheduler caller of the planner"
    pusher    = "Pub/Sub push identity for the worker"
  }
  # Who writes logs: the three functions, and the builds (build logs).
  log_writers = toset(["planner", "worker", "checker", "build"])
}

resource "google_service_account" "sa" {
  for_each     = local.service_accounts
  project      = var.project_id
  account_id   = "${local.prefix}${each.key}"
  display_name = each.value
  depends_on   = [google_project_service.apis]
}

resource "google_project_iam_member" "log_writer" {
  for_each = local.log_writers
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = google_service_account.sa[each.key].member
}

# Eventarc's requirements for Cloud Storage triggers, which exist only at the
# project level: the trigger's identity receives events, and the Cloud
# Storage service agent publishes them.
resource "google_project_iam_member" "eventarc_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.sa["eventarc"].member
}

# Read at plan time: the Cloud Storage API is on in every project, and
# Resource Manager is enabled before the first apply (infra/README.md).
data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_project_iam_member" "gcs_pubsub" {
  count      = local.project_grants ? 1 : 0
  project    = var.project_id
  role       = "roles/pubsub.publisher"
  member     = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
  depends_on = [google_project_service.apis]
}

# Eventarc's own service agent manages the checker trigger's transport and
# checks its source. Google grants it roles/eventarc.serviceAgent when the
# project's first Eventarc resource is created, and a trigger created before
# that grant is seen everywhere is refused ("Permission denied while using the
# Eventarc Service Agent"): on a fresh project, that is the checker's. So the
# agent is created here, granted its role, and the functions wait for the
# grant to propagate, whether or not kms_key is set.
resource "google_project_service_identity" "eventarc" {
  provider   = google-beta
  project    = var.project_id
  service    = "eventarc.googleapis.com"
  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "eventarc_agent" {
  count   = local.project_grants ? 1 : 0
  project = var.project_id
  role    = "roles/eventarc.serviceAgent"
  member  = "serviceAccount:${google_project_service_identity.eventarc.email}"
}

# Google documents access changes as typically seen within 2 minutes; this
# wait happens once, when the grant is made (or, with project_grants false,
# once the agent exists: the deployment that owns the grant is applied first).
resource "time_sleep" "eventarc_agent" {
  create_duration = "120s"
  triggers = {
    agent = google_project_service_identity.eventarc.email
  }
  depends_on = [google_project_iam_member.eventarc_agent]
}
