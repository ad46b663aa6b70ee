/**
 * infra/ against the Google, archive and time providers' own schemas
 * (terraform-provider-schema.json, from `npm run infra:schema`): what
 * `terraform validate` would say about names and shapes, offline. Broken
 * copies of infra/ and small inline configurations show each rule firing.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {validateTerraform, type Hcl, type SchemaFile} from './terraform-schema';
import {parseHcl, parseTerraformDir} from '../../local/iam/terraform';

const INFRA = path.join(__dirname, '..', '..', 'infra');
const schema = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'terraform-provider-schema.json'), 'utf8'),
) as SchemaFile;
const validateDir = async (dir: string) =>
  validateTerraform(await parseTerraformDir<Hcl>(dir), schema);

const validateSource = async (src: string) =>
  validateTerraform({'main.tf': await parseHcl<Hcl>('main.tf', src)}, schema);

function assertFound(problems: string[], expected: RegExp): void {
  assert.ok(
    problems.some(p => expected.test(p)),
    `expected a problem matching ${expected}, got:\n  ${problems.join('\n  ') || '(none)'}`,
  );
}

describe('Terraform against the providers\u2019 schemas', () => {
  it('should record the provider versions the schemas come from', () => {
    const versions = Object.values(schema.providers).map(p => `${p.source} ${p.version}`);
    assert.deepStrictEqual(versions.sort(), [
      'hashicorp/archive 2.7.1',
      'hashicorp/google 6.50.0',
      'hashicorp/google-beta 6.50.0',
      'hashicorp/time 0.13.1',
    ]);
  });

  it('should find no problem in infra/', async () => {
    const problems = await validateDir(INFRA);
    assert.deepStrictEqual(problems, [], `\n  ${problems.join('\n  ')}`);
  });

  describe('a broken copy of infra/', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-schema-'));
      for (const f of fs.readdirSync(INFRA).filter(f => f.endsWith('.tf')))
        fs.copyFileSync(path.join(INFRA, f), path.join(dir, f));
    });
    afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

    /** Applies one edit to `file` (failing if its anchor is gone) and validates the copy. */
    async function breakAndValidate(
      file: string,
      anchor: RegExp,
      replacement: string,
    ): Promise<string[]> {
      const target = path.join(dir, file);
      const src = fs.readFileSync(target, 'utf8');
      assert.match(src, anchor, `infra/${file} no longer contains ${anchor}: update this test`);
      fs.writeFileSync(target, src.replace(anchor, replacement));
      return validateDir(dir);
    }

    const cases: Array<[string, string, RegExp, string, RegExp]> = [
      [
        'a misspelled argument',
        'storage.tf',
        /\buniform_bucket_level_access\b/,
        'uniform_bucket_level_acess',
        /^storage\.tf: google_storage_bucket\.\w+: uniform_bucket_level_acess: unknown argument$/,
      ],
      [
        'a misspelled nested argument',
        'storage.tf',
        /(\bversioning\s*\{\s*)enabled\b/,
        '$1enabledd',
        /^storage\.tf: google_storage_bucket\.\w+: versioning\[0\]\.enabledd: unknown argument$/,
      ],
      [
        'an unknown resource type',
        'pubsub.tf',
        /google_pubsub_topic" "batches"/,
        'google_pubsub_topics" "batches"',
        /^pubsub\.tf: google_pubsub_topics\.batches: google_pubsub_topics is not a resource type of hashicorp\/google 6\.50\.0$/,
      ],
      [
        'a missing required argument',
        'storage.tf',
        /(resource "google_storage_bucket" "recordings" \{[^}]*?)\n\s*location\s*=[^\n]*/,
        '$1',
        /^storage\.tf: google_storage_bucket\.recordings: location: missing required argument$/,
      ],
      [
        'a block used as an argument',
        'storage.tf',
        /\bversioning \{/,
        'versioning = {',
        /^storage\.tf: google_storage_bucket\.\w+: versioning: a block written as an argument/,
      ],
      [
        'an unknown block inside dynamic content',
        'functions.tf',
        /(dynamic "event_trigger" \{[\s\S]*?)\bevent_filters \{/,
        '$1event_filterz {',
        /^functions\.tf: google_cloudfunctions2_function\.fn: dynamic\.event_trigger\[0\]\.content\[0\]\.event_filterz: unknown block$/,
      ],
    ];
    for (const [what, file, anchor, replacement, expected] of cases)
      it(`should report ${what}`, async () =>
        assertFound(await breakAndValidate(file, anchor, replacement), expected));
  });

  describe('rules', () => {
    const bucket = (body: string) =>
      `resource "google_storage_bucket" "b" {\n name = "n"\n location = "EU"\n ${body}\n}`;
    const cases: Array<[string, string, RegExp | null]> = [
      ['accept a valid resource', bucket('versioning { enabled = true }'), null],
      [
        'accept meta-arguments and a valid lifecycle',
        bucket(
          `count = 2
           depends_on = [google_storage_bucket.b]
           lifecycle { ignore_changes = [labels] }
           provisioner "local-exec" { command = "true" }`,
        ),
        null,
      ],
      [
        'check lifecycle',
        bucket('lifecycle { ignore_change = [labels] }'),
        /b: lifecycle\[0\]\.ignore_change: unknown argument$/,
      ],
      [
        'reject a type that is no resource of the provider',
        'resource "google_pubsub_topics" "t" {}',
        /^main\.tf: google_pubsub_topics\.t: google_pubsub_topics is not a resource type of hashicorp\/google 6\.50\.0$/,
      ],
      [
        'reject a data source that the provider lacks',
        'data "google_storage_buckett" "d" {}',
        /^main\.tf: data\.google_storage_buckett\.d: google_storage_buckett is not a data source of hashicorp\/google/,
      ],
      [
        'tell a type missing from the extracted file',
        'resource "google_compute_network" "n" { name = "n" }',
        /google_compute_network is a resource type of hashicorp\/google 6\.50\.0 but not in terraform-provider-schema\.json: re-run npm run infra:schema$/,
      ],
      [
        'point at google-beta for a beta-only type',
        'resource "google_project_service_identity" "p" { service = "pubsub.googleapis.com" }',
        /google_project_service_identity is not a resource type of hashicorp\/google 6\.50\.0 \(set provider = google-beta\)$/,
      ],
      [
        'use the google-beta schema with provider = google-beta',
        'resource "google_project_service_identity" "p" {\n provider = google-beta\n service = "pubsub.googleapis.com"\n}',
        null,
      ],
      [
        'use the google-beta schema with provider = "google-beta"',
        'resource "google_project_service_identity" "p" {\n provider = "google-beta"\n service = "x"\n}',
        null,
      ],
      [
        'reject a provider it has no schema of',
        'resource "random_id" "r" { byte_length = 4 }',
        /random_id\.r: provider "random" is not covered/,
      ],
      [
        'use the archive schema',
        'data "archive_file" "a" {\n type = "zip"\n output_path = "x.zip"\n}',
        null,
      ],
      [
        'use the time schema',
        'resource "time_sleep" "t" { create_durationn = "30s" }',
        /time_sleep\.t: create_durationn: unknown argument$/,
      ],
      ['reject an unknown argument', bucket('labelz = {}'), /b: labelz: unknown argument$/],
      [
        'reject an unknown block',
        bucket('websitez { main_page_suffix = "x" }'),
        /b: websitez: unknown block$/,
      ],
      [
        'reject an unknown nested argument',
        bucket('versioning { enable = true }'),
        /b: versioning\[0\]\.enable: unknown argument$/,
      ],
      [
        'reject a missing required argument',
        'resource "google_storage_bucket" "b" { name = "n" }',
        /b: location: missing required argument$/,
      ],
      [
        'reject a missing required block',
        bucket('lifecycle_rule {\n condition { age = 1 }\n}'),
        /b: lifecycle_rule\[0\]\.action: missing required block$/,
      ],
      [
        'accept a dynamic block for a required block',
        bucket(
          'lifecycle_rule {\n condition { age = 1 }\n dynamic "action" {\n for_each = [1]\n content { type = "Delete" }\n }\n}',
        ),
        null,
      ],
      [
        'reject a block written as an argument',
        bucket('versioning = { enabled = true }'),
        /b: versioning: a block written as an argument/,
      ],
      [
        'reject an argument written as a block',
        bucket('labels { a = "b" }'),
        /b: labels: an argument written as a block/,
      ],
      [
        'reject a second single block',
        bucket('versioning { enabled = true }\n versioning { enabled = false }'),
        /b: versioning: at most one versioning block is allowed, found 2$/,
      ],
      [
        'check dynamic content',
        bucket('dynamic "versioning" {\n for_each = [1]\n content { enabledd = true }\n}'),
        /b: dynamic\.versioning\[0\]\.content\[0\]\.enabledd: unknown argument$/,
      ],
      [
        'reject a dynamic unknown block',
        bucket('dynamic "versioningg" {\n for_each = [1]\n content {}\n}'),
        /b: dynamic\.versioningg: unknown block$/,
      ],
      [
        'reject a dynamic argument',
        bucket('dynamic "labels" {\n for_each = [1]\n content {}\n}'),
        /b: dynamic\.labels: an argument, not a block$/,
      ],
      [
        'check provider blocks',
        'provider "google" {\n alias = "x"\n projectt = "p"\n}',
        /^main\.tf: provider\.google: projectt: unknown argument$/,
      ],
      [
        'accept a valid provider block',
        'provider "google" {\n project = "p"\n default_labels = {}\n}',
        null,
      ],
      [
        'reject a provider pinned to another version than the schema',
        'terraform {\n required_providers {\n google = {\n source = "hashicorp/google"\n version = "6.51.0"\n }\n }\n}',
        /^main\.tf: terraform\.required_providers\.google: hashicorp\/google 6\.51\.0 but the schema is hashicorp\/google 6\.50\.0/,
      ],
      [
        'accept a version constraint and the schema\u2019s exact version',
        'terraform {\n required_providers {\n google = {\n source = "hashicorp/google"\n version = ">= 6.0"\n }\n time = {\n source = "registry.terraform.io/hashicorp/time"\n version = "= 0.13.1"\n }\n }\n}',
        null,
      ],
      [
        'reject a reference to an undeclared resource',
        bucket('labels = { a = google_service_account.sa.email }'),
        /resource\.google_storage_bucket\.b\[0\]\.labels\.a: google_service_account\.sa: reference to a resource or data source that is not declared$/,
      ],
      [
        'accept references to arguments, blocks and computed attributes',
        `resource "google_service_account" "sa" {\n for_each = toset(["a"])\n account_id = each.key\n}
         data "google_project" "p" {}
         ${bucket('labels = { a = google_service_account.sa["a"].email, b = google_service_account.sa, c = data.google_project.p.number, d = google_storage_bucket.b.versioning[0].enabled, e = "${google_service_account.sa[each.key].member}" }')}`,
        null,
      ],
      [
        'reject an unknown attribute',
        `resource "google_service_account" "sa" { account_id = "a" }\n${bucket('labels = { a = google_service_account.sa.emial }')}`,
        /google_service_account\.sa: emial: no such argument or attribute$/,
      ],
      [
        'reject an index on a single resource',
        `resource "google_service_account" "sa" { account_id = "a" }\n${bucket('labels = { a = google_service_account.sa[0].email }')}`,
        /google_service_account\.sa: not declared with count or for_each, so it takes no index$/,
      ],
    ];
    for (const [what, src, expected] of cases)
      it(`should ${what}`, async () => {
        const problems = await validateSource(src);
        if (expected) assertFound(problems, expected);
        else assert.deepStrictEqual(problems, [], `\n  ${problems.join('\n  ')}`);
      });
  });
});
