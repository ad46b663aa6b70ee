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
  # Only a bucket created with it may hold objects with a retention; the
  # provider replaces the bucket to change it, which prevent_destroy stops
  # (infra/README.md, "Compliance options": decide it before the first apply).
  enable_object_retention = local.retention
  versioning {
    enabled = true
  }
  dynamic "encryption" {
    for_each = local.cmek ? [1] : []
    content {
      default_kms_key_name = var.kms_key
    }
  }
  # Replaced and deleted generations of the bookkeeping whose names a
  # lifecycle condition can tell from a recording's (see noncurrent_rules).
  dynamic "lifecycle_rule" {
    for_each = var.noncurrent_bookkeeping_days > 0 ? local.noncurrent_rules : []
    content {
      action {
        type = "Delete"
      }
      condition {
        with_state                 = "ARCHIVED"
        days_since_noncurrent_time = var.noncurrent_bookkeeping_days
        matches_prefix             = lifecycle_rule.value.prefixes
        matches_suffix             = length(lifecycle_rule.value.suffixes) > 0 ? lifecycle_rule.value.suffixes : null
        send_age_if_zero           = false
      }
    }
  }
  # Audio and video move to colder classes as they age; each rule moves only
  # from a warmer class, so a colder one is never undone.
  dynamic "lifecycle_rule" {
    for_each = var.media_storage_classes
    content {
      action {
        type          = "SetStorageClass"
        storage_class = lifecycle_rule.value.storage_class
      }
      condition {
        age                   = lifecycle_rule.value.age_days
        with_state            = "ANY"
        matches_prefix        = ["${var.export_env}/"]
        matches_suffix        = local.media_suffixes
        matches_storage_class = slice(local.storage_classes, 0, index(local.storage_classes, lifecycle_rule.value.storage_class))
      }
    }
  }
  # The archive outlives any change to this configuration: a plan that would
  # replace or destroy the bucket stops here (infra/README.md, "Teardown").
  lifecycle {
    prevent_destroy = true
    precondition {
      condition     = !local.cmek || local.kms_key_location == var.region
      error_message = "kms_key must be in region (${var.region}): the bucket, the functions and their repository can only use a key of their own location."
    }
  }
  depends_on = [google_project_service.apis, time_sleep.kms_grants]
}

locals {
  retention = var.retention_days > 0
  # Lifecycle conditions match the start (matches_prefix) or the end
  # (matches_suffix) of a name, any of a list each, both when a rule has both;
  # nothing in the middle, so ENV/DAY/_manifest/ cannot be matched as a
  # folder. These rules reach only names no recording, metadata document,
  # report or attempt counter can have (test/repo/infra-compliance.spec.ts
  # checks them on the names functions/core/object-names.ts builds).
  noncurrent_rules = [
    # Rejected-message records and the index.
    { prefixes = ["${var.export_env}/_rejected/", "${var.export_env}/_index/"], suffixes = [] },
    # Markers, the day's and the runs' plans, the checker's ledger.
    { prefixes = ["${var.export_env}/"], suffixes = ["/_SUCCESS", "/_FAILURE", "/plan.json", "/decision.json"] },
  ]
  # The file extensions of the audio and video content types of
  # functions/core/content-types.ts: the bulk of the bytes.
  media_suffixes  = [".m4a", ".mp3", ".mp4", ".ogg", ".opus", ".wav", ".webm"]
  storage_classes = ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]
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
  # The planner's background work: a history migration's record and the days
  # it yields to, the restores of archived recordings and their queue.
  migration = "resource.name.startsWith(\"${local.objects}_migration/\")"
  # The queue of recordings awaiting a restore, which the checker adds to.
  restore_inbox = "resource.name.startsWith(\"${local.objects}_migration/restore-inbox/\")"
  # Everything in the folder but the recordings themselves: markers, plans,
  # reports, ledger, metadata, rejected messages, the recordings index.
  bookkeeping = "(${local.markers} || ${local.manifest} || ${local.metadata} || ${local.rejected} || ${local.index} || ${local.migration})"
  # Operators' waivers: only operators create them (operators.tf).
  waivers = "resource.name.extract(\"${local.objects}{day}/_manifest/waivers/\") != \"\""
  # The checker's ledger (_manifest/decision.json) and decided records
  # (_manifest/decision-records.ndjson): every name that starts so.
  ledger = "resource.name.extract(\"${local.objects}{day}/_manifest/decision\") != \"\""
  # The checker's and the planner's objects, which the worker never writes.
  decisions = "(resource.name.endsWith(\"/_SUCCESS\") || resource.name.endsWith(\"/_FAILURE\") || ${local.ledger} || resource.name.endsWith(\"/plan.json\") || ${local.index} || ${local.migration})"
  # What the worker gives a retention when it creates it: recordings and
  # metadata documents, under the same condition as its create grant. One
  # grant per kind of object: a single expression over all of them would
  # hold 14 logical operators, and IAM takes at most 12 in one condition
  # (infra/README.md, "Limits of IAM Conditions"). The grants together allow
  # exactly what that expression would. A recording is
  # ENV/DAY/TYPE/CONVERSATION_RECORDING.EXT, one TYPE per folder of
  # functions/core/content-types.ts.
  retained = {
    call     = "${local.in_env} && resource.name.extract(\"${local.objects}{day}/call/\") != \"\" && !${local.decisions} && !(${local.waivers})"
    chat     = "${local.in_env} && resource.name.extract(\"${local.objects}{day}/chat/\") != \"\" && !${local.decisions} && !(${local.waivers})"
    email    = "${local.in_env} && resource.name.extract(\"${local.objects}{day}/email/\") != \"\" && !${local.decisions} && !(${local.waivers})"
    message  = "${local.in_env} && resource.name.extract(\"${local.objects}{day}/message/\") != \"\" && !${local.decisions} && !(${local.waivers})"
    screen   = "${local.in_env} && resource.name.extract(\"${local.objects}{day}/screen/\") != \"\" && !${local.decisions} && !(${local.waivers})"
    metadata = "${local.in_env} && ${local.metadata} && !${local.decisions} && !(${local.waivers})"
  }
  bucket_grants = {
    # Lists and reads earlier days' markers, plans and reports (never a recording).
    planner_reads = {
      sa    = "planner"
      role  = "roles/storage.objectViewer"
      title = "read own markers and manifests"
      when  = "${local.listing} || (${local.in_env} && (${local.markers} || ${local.manifest} || ${local.migration}))"
    }
    # Writes a history migration's record and the days it yields to, and the
    # restore record; queues a day's archived recordings (grm restore DAY) and
    # removes what it took from the queue.
    planner_writes_migration = {
      sa    = "planner"
      role  = "roles/storage.objectUser"
      title = "write the migration and restore records"
      when  = "${local.in_env} && ${local.migration}"
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
    # Reads what it wrote (idempotent redelivery) and its attempt counters,
    # and lists a recording group's objects (listing is checked on the bucket).
    worker_reads = {
      sa    = "worker"
      role  = "roles/storage.objectViewer"
      title = "read own export_env"
      when  = local.readable
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
    # Lists the bucket (a run's reports, waivers, the recordings the reports
    # claim) and reads the day's _manifest/: plans and plan parts, reports,
    # the ledger, waivers. It never reads a recording or a metadata document
    # (functions/services/day-inputs.ts); markers and the index it reads through
    # its replace grants below.
    checker_reads = {
      sa    = "checker"
      role  = "roles/storage.objectViewer"
      title = "list, read own manifests"
      when  = "${local.listing} || (${local.in_env} && ${local.manifest})"
    }
    # Writes the ledger, the decided records and the day's marker, and removes
    # the marker it replaces.
    checker_replaces_markers = {
      sa    = "checker"
      role  = "roles/storage.objectUser"
      title = "write the ledger and markers"
      when  = "${local.in_env} && (${local.markers} || ${local.ledger})"
    }
    # Queues a decided day's archived recordings for the planner's restores
    # (once per outcome: it never replaces or removes a queue file).
    checker_queues_restores = {
      sa    = "checker"
      role  = "roles/storage.objectCreator"
      title = "queue restores"
      when  = "${local.in_env} && ${local.restore_inbox}"
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

# Cloud Storage gives a new bucket role bindings for the project's basic
# roles, its "convenience values": project owners and editors get the legacy
# bucket owner role, viewers the legacy bucket reader role, and, on a bucket
# created with uniform bucket-level access, the legacy object roles follow
# (owner for owners and editors, reader for viewers). The grants above only
# add members, so those would stay: anyone with roles/viewer on the project
# (the plan identity of Cloud Build included) could read every recording,
# and any editor could delete one or grant themselves the right to read it.
# Each legacy role is therefore held here authoritatively, with exactly the
# members listed: no convenience value reads, replaces or deletes an object;
# project owners keep managing the bucket, as the project's owners do anyway;
# project viewers keep the bucket's metadata and the listing of object names
# (the plan identity reads the bucket through it), never an object. No grant
# of this folder uses a legacy role: a binding resource and member resources
# must never share a role (the provider's IAM documentation).
locals {
  legacy_bucket_members = {
    "roles/storage.legacyBucketOwner"  = ["projectOwner:${var.project_id}"]
    "roles/storage.legacyBucketReader" = ["projectViewer:${var.project_id}"]
    "roles/storage.legacyBucketWriter" = []
    "roles/storage.legacyObjectOwner"  = []
    "roles/storage.legacyObjectReader" = []
  }
}

# With no members, the provider writes the role with none, which IAM drops,
# and reads a role that is not there as having none: no change is planned.
resource "google_storage_bucket_iam_binding" "legacy" {
  for_each = local.legacy_bucket_members
  bucket   = google_storage_bucket.recordings.name
  role     = each.key
  members  = each.value
}

# Creating an object with a retention needs storage.objects.setRetention
# besides create (Cloud Storage's objects.insert). The predefined roles that
# hold it hold much more (Storage Object Admin: every object permission,
# storage.objects.overrideUnlockedRetention included, which shortens or
# removes an unlocked retention), so the worker gets a role with that one
# permission, on recordings and metadata only. With storage.objects.update,
# which it holds on metadata, it could also extend a metadata document's
# retention; never shorten one.
resource "google_project_iam_custom_role" "set_retention" {
  count       = local.retention ? 1 : 0
  project     = var.project_id
  role_id     = "${replace(var.prefix, "-", "_")}_setObjectRetention"
  title       = "genesys-recording-migrator set object retention"
  description = "Give an object a retention when creating it; never shorten or remove one"
  permissions = ["storage.objects.setRetention"]
  depends_on  = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "worker_sets_retention" {
  for_each = local.retention ? local.retained : {}
  bucket   = google_storage_bucket.recordings.name
  role     = google_project_iam_custom_role.set_retention[0].name
  member   = google_service_account.sa["worker"].member
  condition {
    title       = "retain ${each.key}"
    description = "genesys-recording-migrator worker: retention on the ${each.key} objects it creates"
    expression  = each.value
  }
}

# Who read, listed or wrote which object. Cloud Storage's Data Access logs
# can only be turned on for the service in the whole project (no per-bucket
# setting), and this resource owns the project's setting for the service.
resource "google_project_iam_audit_config" "storage" {
  count   = var.storage_data_access_logs ? 1 : 0
  project = var.project_id
  service = "storage.googleapis.com"
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
  lifecycle {
    precondition {
      condition     = local.project_grants
      error_message = "storage_data_access_logs sets the whole project's audit configuration of Cloud Storage: turn it on in the deployment that owns the project-level settings (project_grants = true), not in this one."
    }
  }
  depends_on = [google_project_service.apis]
}
