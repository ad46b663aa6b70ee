# The recordings bucket and who may do what in it. Every function is confined
# to its export_env folder by IAM Conditions on the object name, and only the
# bookkeeping it owns may be replaced or deleted by it: nobody but an operator
# with their own rights can delete or replace a recording.
#
# Overwriting an object needs storage.objects.delete as well as create, so the
# "replace" grants below are roles/storage.objectUser on exactly the names that
# are rewritten by design (plans, batch reports, attempt counters, the
# checker's ledger, markers and recordings index, a conversation's metadata
# when its export outcome changes). test/repo/infra-iam.spec.ts evaluates
# these conditions on the names functions/core/object-names.ts builds.
resource "google_storage_bucket" "recordings" {
  project                     = var.project_id
  name                        = var.bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  versioning {
    enabled = true
  }
  # The archive outlives any change to this configuration: a plan that would
  # replace or destroy the bucket stops here (infra/README.md, "Teardown").
  lifecycle {
    prevent_destroy = true
  }
  depends_on = [google_project_service.apis]
}

locals {
  # Object names in IAM Conditions: projects/_/buckets/BUCKET/objects/NAME.
  objects = "projects/_/buckets/${google_storage_bucket.recordings.name}/objects/${var.export_env}/"
  in_env  = "resource.name.startsWith(\"${local.objects}\")"
  # Listing is checked on the bucket itself, reading on each object.
  listing  = "resource.type == \"storage.googleapis.com/Bucket\""
  readable = "${local.listing} || ${local.in_env}"
  markers  = "(resource.name.endsWith(\"/_SUCCESS\") || resource.name.endsWith(\"/_FAILURE\"))"
  manifest = "resource.name.extract(\"${local.objects}{day}/_manifest/\") != \"\""
  metadata = "resource.name.extract(\"${local.objects}{day}/metadata/\") != \"\""
  rejected = "resource.name.startsWith(\"${local.objects}_rejected/\")"
  # The recordings index the checker writes per decided day (bigquery.tf reads it).
  index = "resource.name.startsWith(\"${local.objects}_index/\")"
  # Everything in the folder but the recordings themselves: markers, plans,
  # reports, ledger, metadata, rejected messages, the recordings index.
  bookkeeping = "(${local.markers} || ${local.manifest} || ${local.metadata} || ${local.rejected} || ${local.index})"
  # Operators' waivers: only operators create them (operators.tf).
  waivers = "resource.name.extract(\"${local.objects}{day}/_manifest/waivers/\") != \"\""
  # The checker's and the planner's objects, which the worker never writes.
  decisions = "(resource.name.endsWith(\"/_SUCCESS\") || resource.name.endsWith(\"/_FAILURE\") || resource.name.endsWith(\"/_manifest/decision.json\") || resource.name.endsWith(\"/plan.json\") || ${local.index})"
  bucket_grants = {
    # Lists and reads earlier days' markers, plans and reports (never a recording).
    planner_reads = {
      sa    = "planner"
      role  = "roles/storage.objectViewer"
      title = "read own markers and manifests"
      when  = "${local.listing} || (${local.in_env} && (${local.markers} || ${local.manifest}))"
    }
    # Creates each run's plan, once.
    planner_creates_runs = {
      sa    = "planner"
      role  = "roles/storage.objectCreator"
      title = "create run plans"
      when  = "${local.in_env} && resource.name.endsWith(\"/plan.json\") && resource.name.extract(\"${local.objects}{day}/_manifest/runs/\") != \"\""
    }
    # Replaces the day's current plan.
    planner_replaces_plan = {
      sa    = "planner"
      role  = "roles/storage.objectUser"
      title = "replace the day plan"
      when  = "${local.in_env} && resource.name.endsWith(\"/_manifest/plan.json\")"
    }
    # Reads what it wrote (idempotent redelivery) and its attempt counters.
    worker_reads = {
      sa    = "worker"
      role  = "roles/storage.objectViewer"
      title = "read own export_env"
      when  = local.in_env
    }
    # Creates recordings, metadata, reports and rejected messages; never replaces a recording.
    worker_creates = {
      sa    = "worker"
      role  = "roles/storage.objectCreator"
      title = "create in own export_env"
      when  = "${local.in_env} && !${local.decisions} && !(${local.waivers})"
    }
    # Rewrites batch reports, attempt counters and rejected-message records, and
    # a conversation's metadata.
    worker_replaces_bookkeeping = {
      sa    = "worker"
      role  = "roles/storage.objectUser"
      title = "replace bookkeeping and metadata"
      when  = "${local.in_env} && !${local.decisions} && !(${local.waivers}) && (${local.manifest} || ${local.metadata} || ${local.rejected})"
    }
    # Reads plans and reports and lists a run's reports.
    checker_reads = {
      sa    = "checker"
      role  = "roles/storage.objectViewer"
      title = "read own export_env"
      when  = local.readable
    }
    # Writes the ledger and the day's marker, and removes the marker it replaces.
    checker_replaces_markers = {
      sa    = "checker"
      role  = "roles/storage.objectUser"
      title = "write the ledger and markers"
      when  = "${local.in_env} && (${local.markers} || resource.name.endsWith(\"/_manifest/decision.json\"))"
    }
    # Writes each decided day's recordings index, replacing the previous one.
    checker_replaces_index = {
      sa    = "checker"
      role  = "roles/storage.objectUser"
      title = "write the recordings index"
      when  = "${local.in_env} && ${local.index} && resource.name.extract(\"${local.objects}_index/day={day}/\") != \"\" && resource.name.endsWith(\"/recordings.ndjson\")"
    }
  }
}

resource "google_storage_bucket_iam_member" "functions" {
  for_each = local.bucket_grants
  bucket   = google_storage_bucket.recordings.name
  role     = each.value.role
  member   = google_service_account.sa[each.value.sa].member
  condition {
    title       = each.value.title
    description = "genesys-recording-migrator ${each.value.sa}: ${each.key}"
    expression  = each.value.when
  }
}
