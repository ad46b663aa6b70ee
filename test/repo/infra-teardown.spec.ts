/**
 * The documented teardown (infra/README.md, "Teardown") keeps the archive
 * usable: the commands take out of the Terraform state, before `terraform
 * destroy`, every resource the kept bucket needs, derived here from infra/
 * itself: the bucket, every authoritative binding on it, its unconditional
 * grants (the archive's readers), and every grant of the Cloud Storage
 * service agent on the key (without it the archive is undecryptable).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {Block, Hcl, loadInfra, locals, resources} from '../../local/iam/terraform';

const README = path.join(__dirname, '..', '..', 'infra', 'README.md');
const BUCKET = '${google_storage_bucket.recordings.name}';

/** The first sh block of a README section, continuation lines joined. */
function shellOf(section: string): string[] {
  const text = fs.readFileSync(README, 'utf8');
  const start = text.indexOf(`\n## ${section}\n`);
  assert.ok(start >= 0, `infra/README.md has no section ${section}`);
  const body = text.slice(start + 1).split(/\n## /)[0]!;
  const block = /```sh\n([\s\S]*?)```/.exec(body)?.[1];
  assert.ok(block, `no sh block in ${section}`);
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean);
}

/** Words as a shell splits them, quotes removed. */
const words = (s: string) =>
  [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map(m => m[1] ?? m[2] ?? m[3]!);

/**
 * The addresses the documented commands take out of the state before the
 * destroy, and whether a destroy follows.
 */
export function keptByTeardown(lines: string[]): {kept: string[]; destroyAfter: boolean} {
  const kept: string[] = [];
  let destroyAt = -1;
  lines.forEach((line, i) => {
    const loop = /^for (\w+) in (.*?); do$/.exec(line);
    if (loop) {
      // The loop's body must take each of them out of the state.
      const body = lines.slice(i + 1, lines.indexOf('done', i));
      assert.ok(
        body.some(
          l =>
            l.includes(`terraform state list "$${loop[1]!}"`) &&
            /terraform state rm "\$\w+"/.test(l),
        ),
        `the loop over ${loop[1]!} does not take them out of the state: ${body.join('; ')}`,
      );
      kept.push(...words(loop[2]!));
    }
    const rm = /^terraform state rm (.+)$/.exec(line);
    if (rm) kept.push(...words(rm[1]!.replace(/\s+#.*$/, '')));
    if (/^terraform destroy\b/.test(line)) destroyAt = i;
  });
  const lastRm = Math.max(...lines.map((l, i) => (/terraform state rm/.test(l) ? i : -1)));
  return {kept, destroyAfter: destroyAt > lastRm && lastRm >= 0};
}

/** The maps of locals an expression refers to, through string locals as well. */
function localMaps(expr: string, all: Block, seen = new Set<string>()): Block[] {
  return [...expr.matchAll(/\blocal\.([a-z_]+)/g)].flatMap(([, name]) => {
    if (seen.has(name!)) return [];
    seen.add(name!);
    const value = all[name!];
    if (typeof value === 'string') return localMaps(value, all, seen);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? [value as Block]
      : [];
  });
}

/** What must survive a teardown that keeps the archive, from infra/'s own resources. */
export function mustSurvive(docs: Hcl[]): string[] {
  const all = locals(docs);
  const out: string[] = [];
  for (const [type, name, body] of resources(docs)) {
    if (type === 'google_storage_bucket' && name === 'recordings') out.push(`${type}.${name}`);
    if (type === 'google_storage_bucket_iam_binding' && body.bucket === BUCKET)
      out.push(`${type}.${name}`);
    if (
      type === 'google_storage_bucket_iam_member' &&
      body.bucket === BUCKET &&
      !('condition' in body)
    )
      out.push(`${type}.${name}`);
    if (type.startsWith('google_kms_crypto_key_iam')) {
      const member = String(body.member ?? body.members ?? '');
      if (member.includes('google_storage_project_service_account')) out.push(`${type}.${name}`);
      // A for_each over a map of agents (directly or through other locals): the Cloud
      // Storage agent's instance.
      for (const map of localMaps(String(body.for_each ?? ''), all))
        for (const [key, value] of Object.entries(map))
          if (String(value).includes('google_storage_project_service_account'))
            out.push(`${type}.${name}["${key}"]`);
    }
  }
  return out;
}

describe('infra/ teardown (infra/README.md keeps what the archive needs)', () => {
  let docs: Hcl[];
  before(async () => {
    docs = await loadInfra();
  });

  it('should take out of the state, before the destroy, every resource the kept archive needs', () => {
    const {kept, destroyAfter} = keptByTeardown(shellOf('Teardown'));
    const needed = mustSurvive(docs);
    assert.ok(needed.length >= 4, needed.join(', '));
    assert.deepStrictEqual(
      needed.filter(n => !kept.includes(n)),
      [],
      'the documented teardown destroys these',
    );
    assert.ok(destroyAfter, 'terraform destroy comes after the state rm');
  });

  it('should name only resources infra/ declares', () => {
    const declared = new Set(resources(docs).map(([t, n]) => `${t}.${n}`));
    const {kept} = keptByTeardown(shellOf('Teardown'));
    for (const address of kept)
      assert.ok(declared.has(address.replace(/\[.*\]$/, '')), `${address} is not declared`);
  });

  it('should notice a teardown that keeps only the bucket', () => {
    const {kept, destroyAfter} = keptByTeardown([
      'terraform state rm google_storage_bucket.recordings   # keep the archive',
      'terraform destroy',
    ]);
    assert.deepStrictEqual(kept, ['google_storage_bucket.recordings']);
    assert.ok(destroyAfter);
    const missing = mustSurvive(docs).filter(n => !kept.includes(n));
    assert.ok(
      missing.includes('google_kms_crypto_key_iam_member.agents["storage"]'),
      missing.join(),
    );
    assert.throws(() => keptByTeardown(['for a in x; do', 'echo "$a"', 'done']), /does not take/);
  });
});
