/**
 * The docs say what the product does: every resource name in a documented
 * gcloud command is one Terraform creates (or the local stack's, for
 * commands against it), grm's defaults are Terraform's names, every
 * documented grm command and flag exists, and every relative link and
 * anchor resolves.
 */
import * as assert from 'node:assert';
import {execFileSync, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {LOCAL_DEFAULTS} from '../../local/stack';
import {grm} from '../../functions/ops/grm';
import {DEFAULT_TOPIC} from '../../functions/ops/grm-target';
import {RECORDINGS_SCHEMA} from '../../functions/core/recordings-index';
import {
  Block,
  interpolate,
  loadInfra,
  locals,
  resources,
  variable,
} from '../../local/iam/terraform';

const ROOT = path.join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  'infra/README.md',
  'infra/DESIGN.md',
  ...fs.readdirSync(path.join(ROOT, 'docs')).map(f => `docs/${f}`),
].filter(f => f.endsWith('.md'));
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** Shell commands in fenced blocks and inline code, with `\` continuations joined. */
function commands(text: string): string[] {
  const blocks = [...text.matchAll(/```(?:sh|bash)?\n([\s\S]*?)```/g)].map(m => m[1]!);
  const inline = [...text.matchAll(/`([^`\n]+)`/g)].map(m => m[1]!);
  return [
    ...blocks
      .join('\n')
      .replace(/\\\n\s*/g, ' ')
      .split('\n'),
    ...inline,
  ].map(l => l.trim());
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('docs', () => {
  let deployed: Set<string>;
  before(async () => {
    const docs = await loadInfra();
    const all = locals(docs);
    const values = {'var.prefix': String(variable(docs, 'prefix').default)};
    deployed = new Set<string>();
    const add = (text: string) => {
      try {
        deployed.add(interpolate(text, values, all));
      } catch {
        // a name built from other inputs (the project id): not one the docs spell out
      }
    };
    for (const [, , body] of resources(docs))
      for (const key of ['name', 'account_id', 'secret_id', 'repository_id'])
        if (typeof body[key] === 'string') add(String(body[key]));
    for (const value of Object.values(all.secrets as Record<string, string>)) add(value);
    for (const fn of Object.keys(all.functions as Block)) add(`\${local.prefix}${fn}`);
  });

  it("should use in every documented gcloud command the names Terraform creates, or the local stack's", () => {
    const local = new Set([LOCAL_DEFAULTS.topic, `${LOCAL_DEFAULTS.topic}-dead-letter-keep`]);
    const named =
      /gcloud (?:pubsub topics publish|pubsub subscriptions pull|scheduler jobs run|run services describe|secrets versions add) ([a-z][a-z0-9-]*)/;
    let checked = 0;
    for (const file of DOCS)
      for (const cmd of commands(read(file))) {
        const name = named.exec(cmd)?.[1];
        if (!name) continue;
        checked++;
        const where = cmd.includes('--project=demo-project') ? local : deployed;
        assert.ok(
          where.has(name),
          `${file}: "${name}" is not a name ${where === local ? 'the local stack' : 'Terraform'} creates: ${cmd}`,
        );
      }
    assert.ok(checked >= 8, `only ${checked} commands found`);
  });

  it('should read from Terraform only outputs it declares', async () => {
    const docs = await loadInfra();
    const outputs = new Set(docs.flatMap(d => Object.keys(d.output ?? {})));
    let checked = 0;
    for (const file of DOCS)
      for (const cmd of commands(read(file)))
        for (const m of cmd.matchAll(
          /terraform(?: -chdir=\S+)? output(?: -(?:raw|json|no-color))* ([a-z_]+)/g,
        )) {
          checked++;
          assert.ok(
            outputs.has(m[1]!),
            `${file}: terraform output ${m[1]!} is not an output: ${cmd}`,
          );
        }
    assert.ok(checked >= 5, `only ${checked} terraform output commands found`);
    // The deployment's names come from the outputs, never written out (docs/operations.md).
    const setup = commands(read('docs/operations.md')).filter(c =>
      /^export GRM_(BUCKET|ENV|PLANNER_URL)=/.test(c),
    );
    assert.strictEqual(setup.length, 3, setup.join('\n'));
    for (const line of setup)
      assert.match(line, /=\$\(terraform -chdir=infra output -raw [a-z_]+\)$/, line);
  });

  it('should default grm to the topic and dead-letter subscription Terraform creates', () => {
    assert.ok(deployed.has(DEFAULT_TOPIC), DEFAULT_TOPIC);
    assert.ok(deployed.has(`${DEFAULT_TOPIC}-dead-letter-keep`));
  });

  it('should document only grm commands and flags that exist', async () => {
    let checked = 0;
    for (const file of DOCS)
      for (const cmd of commands(read(file))) {
        const m = /(?:npx grm|npm run grm --) (.*)$/.exec(cmd);
        if (!m) continue;
        // Words as a shell splits them (quotes removed), up to a redirection or pipe.
        const words = [...m[1]!.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map(
          w => w[1] ?? w[2] ?? w[3]!,
        );
        const end = words.findIndex(w => w === '>' || w === '|');
        const err: string[] = [];
        const code = await grm([...(end < 0 ? words : words.slice(0, end)), '--help'], {
          out: () => {},
          err: l => err.push(l),
          env: {},
          now: () => 0,
          sleep: () => Promise.resolve(),
        });
        assert.strictEqual(code, 0, `${file}: ${cmd}\n${err.join('\n')}`);
        checked++;
      }
    assert.ok(checked >= 8, `only ${checked} grm commands found`);
  });

  it('should document every column of the recordings index in docs/sql.md, and only those', () => {
    const text = read('docs/sql.md');
    const table = text.slice(text.indexOf('## Columns'), text.indexOf('## Example queries'));
    const documented = [...table.matchAll(/^\| ((?:`[a-z_0-9]+`(?:, )?)+) \|/gm)].flatMap(m =>
      [...m[1]!.matchAll(/`([a-z_0-9]+)`/g)].map(n => n[1]!),
    );
    const columns = ['day', ...RECORDINGS_SCHEMA.map(f => f.name)];
    assert.deepStrictEqual(documented, columns);
  });

  it('should cite no issue number and nothing outside the repository in its docs, code or comments', () => {
    const grep = (pattern: string, paths: string[]) => {
      const r = spawnSync('git', ['grep', '-n', '-I', '-i', '-E', pattern, '--', ...paths], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.ok(r.status === 0 || r.status === 1, r.stderr);
      return r.stdout.split('\n').filter(l => l !== '');
    };
    // What a reader of the repository has: nothing next to it, and no tracker.
    assert.deepStrictEqual(
      grep('shared/|issue [0-9]', ['README.md', 'docs', 'functions', 'local']),
      [],
    );
    assert.deepStrictEqual(grep('[.][.]/shared|issues? #?[0-9]', ['infra', 'test', 'bench']), []);
  });

  it('should have every relative link and anchor of every Markdown file resolve inside the repository', () => {
    const markdown = execFileSync('git', ['ls-files', '*.md'], {cwd: ROOT, encoding: 'utf8'})
      .split('\n')
      .filter(f => f !== '');
    assert.ok(markdown.includes('README.md') && markdown.length >= DOCS.length);
    for (const file of markdown) {
      const text = read(file);
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [rel, anchor] = target!.split('#', 2) as [string, string | undefined];
        const dest = rel ? path.normalize(path.join(path.dirname(file), rel)) : file;
        assert.ok(
          !dest.startsWith('..') && !path.isAbsolute(dest),
          `${file}: ${target} leads outside the repository`,
        );
        assert.ok(fs.existsSync(path.join(ROOT, dest)), `${file}: ${target} does not exist`);
        if (anchor && dest.endsWith('.md')) {
          const anchors = [...read(dest).matchAll(/^#+ (.*)$/gm)].map(m => slug(m[1]!));
          assert.ok(anchors.includes(anchor), `${file}: #${anchor} is not a heading of ${dest}`);
        }
      }
    }
  });
});
