/**
 * Repository-level promises that no other test covers: the toolchain pins,
 * the Cloud Build pipeline's schema, and the Terraform's syntax and format.
 */
import * as assert from 'node:assert';
import {execFileSync, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {parse as parseYaml} from 'yaml';
import {validateBuild} from './cloudbuild-schema';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

function hasTerraform(): boolean {
  try {
    execFileSync('terraform', ['version'], {stdio: 'ignore'});
    return true;
  } catch {
    return false;
  }
}

describe('repository', () => {
  it('should target Node.js 22 everywhere', () => {
    const pkg = JSON.parse(read('package.json')) as {engines: {node: string}};
    assert.match(pkg.engines.node, /22/);
    assert.strictEqual(read('.nvmrc').trim(), '22');
    assert.match(process.version, /^v22\./, 'tests must run on Node 22 (see .ci/run)');
  });

  describe('on another Node.js than 22', () => {
    // The machines' system Node (20) stands in for a user's wrong Node.
    const otherNode = ['/usr/bin/node', '/usr/local/bin/node'].find(n => {
      try {
        return !/^v22\./.test(execFileSync(n, ['--version'], {encoding: 'utf8'}));
      } catch {
        return false;
      }
    });

    it('should stop npm test and the demo at once, with one line that says how to get Node 22', function () {
      if (!otherNode) this.skip();
      const run = spawnSync(otherNode!, ['local/require-node.cjs'], {cwd: ROOT, encoding: 'utf8'});
      assert.strictEqual(run.status, 1);
      assert.match(
        run.stderr,
        /^genesys-recording-migrator needs Node\.js 22, this is v\d+\.[^\n]*nvm install 22[^\n]*node@22[^\n]*\n$/,
      );
      const pkg = JSON.parse(read('package.json')) as {scripts: Record<string, string>};
      assert.match(pkg.scripts.pretest!, /^node local\/require-node\.cjs && /);
      assert.match(pkg.scripts.predemo!, /^node local\/require-node\.cjs$/);
      assert.strictEqual(
        spawnSync(process.execPath, ['local/require-node.cjs'], {cwd: ROOT}).status,
        0,
      );
    });

    it('should make npm ci refuse to install (engine-strict), not print warnings and go on', function () {
      this.timeout(120_000);
      if (!otherNode) this.skip();
      const npm = path.join(path.dirname(otherNode!), 'npm');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engines-'));
      for (const f of ['package.json', 'package-lock.json', '.npmrc'])
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
      const run = spawnSync(
        npm,
        ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'],
        {
          cwd: dir,
          encoding: 'utf8',
          env: {...process.env, PATH: `${path.dirname(otherNode!)}:${process.env.PATH}`},
        },
      );
      fs.rmSync(dir, {recursive: true, force: true});
      assert.notStrictEqual(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stderr, /notsup|EBADENGINE/);
    });
  });

  it('should compile with strict TypeScript and unchecked-index safety', () => {
    const tsconfig = JSON.parse(read('tsconfig.json')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.strictEqual(tsconfig.compilerOptions.noUncheckedIndexedAccess, true);
    const base = JSON.parse(read('node_modules/gts/tsconfig-google.json')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.strictEqual(base.compilerOptions.strict, true);
  });

  describe('cloudbuild.yaml', () => {
    it("should match Cloud Build's Build schema", () => {
      assert.deepStrictEqual(validateBuild(parseYaml(read('cloudbuild.yaml'))), []);
    });

    it('should name every step', () => {
      const doc = parseYaml(read('cloudbuild.yaml')) as {steps: Array<{id?: string}>};
      assert.ok(doc.steps.length > 0);
      for (const step of doc.steps) assert.ok(step.id, 'every step needs an id');
    });

    interface Step {
      id: string;
      name: string;
      args?: string[];
      entrypoint?: string;
    }
    const build = () =>
      parseYaml(read('cloudbuild.yaml')) as {
        steps: Step[];
        substitutions: Record<string, string>;
        options: {machineType?: string};
        timeout: string;
      };
    const stepIndex = (id: string) => build().steps.findIndex(s => s.id === id);

    it('should run every step in an image pinned by digest', () => {
      const {steps, substitutions} = build();
      for (const step of steps) {
        const image = /^\$\{(_[A-Z_]+_IMAGE)\}$/.exec(step.name)?.[1];
        assert.ok(image, `${step.id}: the image comes from an _..._IMAGE substitution`);
        assert.match(substitutions[image]!, /^[a-z0-9./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$/, image);
      }
    });

    it('should run the test suite (.ci/run) before any Terraform step', () => {
      const test = build().steps[stepIndex('Test')]!;
      assert.ok(test.args?.join(' ').includes('bash .ci/run'));
      assert.ok(stepIndex('Test') < stepIndex('Terraform init'));
    });

    it('should init Terraform on the GCS backend, validate, plan and apply exactly that plan on the deploy branch only', () => {
      const {steps, substitutions, options, timeout} = build();
      const args = (id: string) => steps[stepIndex(id)]!.args!.join(' ');
      assert.match(
        args('Terraform init'),
        /-backend-config=bucket=\$\{_TF_STATE_BUCKET\} -backend-config=prefix=\$\{_TF_STATE_PREFIX\}/,
      );
      assert.match(args('Terraform validate'), /-chdir=infra validate/);
      assert.match(args('Terraform plan'), /-out=tfplan/);
      const apply = args('Terraform apply');
      assert.match(apply, /"\$BRANCH_NAME" = "\$\{_DEPLOY_BRANCH\}" \] && \[ -z "\$_PR_NUMBER" \]/);
      assert.match(apply, /apply -input=false -lock-timeout=300s tfplan/);
      assert.ok(stepIndex('Terraform plan') < stepIndex('Terraform apply'));
      assert.strictEqual(substitutions._DEPLOY_BRANCH, 'main');
      assert.ok(options.machineType, 'a machine type that runs the suite in time');
      assert.ok(parseInt(timeout, 10) >= 1800 && parseInt(timeout, 10) <= 7200, timeout);
    });

    const broken: Array<[string, unknown, RegExp]> = [
      [
        'an unknown step field',
        {steps: [{name: 'node:22', entrypointt: 'npm'}]},
        /entrypointt: unknown field/,
      ],
      [
        'args that are not a list',
        {steps: [{name: 'node:22', args: 'ci'}]},
        /args: expected a list/,
      ],
      [
        'a timeout without unit',
        {steps: [{name: 'node:22'}], timeout: '20m'},
        /Duration must look like/,
      ],
      ['an unknown logging mode', {steps: [{name: 'x'}], options: {logging: 'LOUD'}}, /not one of/],
    ];
    for (const [name, doc, message] of broken) {
      it(`should catch ${name}`, () => {
        const problems = validateBuild(doc);
        assert.ok(
          problems.some(p => message.test(p)),
          problems.join('\n'),
        );
      });
    }
  });

  describe('infra/', () => {
    const tfFiles = () =>
      fs
        .readdirSync(path.join(ROOT, 'infra'), {recursive: true})
        .map(String)
        .filter(f => f.endsWith('.tf'));

    it('should parse as HCL and pin the google provider', async () => {
      const {parse} = require('@cdktf/hcl2json') as {
        parse: (name: string, src: string) => Promise<Record<string, unknown>>;
      };
      const files = tfFiles();
      assert.ok(files.length > 0);
      for (const f of files) await parse(f, read(path.join('infra', f)));
      const versions = (await parse('versions.tf', read('infra/versions.tf'))) as {
        terraform: Array<{required_providers: Array<Record<string, {source: string}>>}>;
      };
      assert.strictEqual(
        versions.terraform[0]?.required_providers[0]?.google?.source,
        'hashicorp/google',
      );
    });

    it('should be formatted as terraform fmt wants', function () {
      if (!hasTerraform()) this.skip();
      execFileSync('terraform', ['fmt', '-check', '-diff', '-recursive', 'infra'], {
        cwd: ROOT,
        env: {...process.env, CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null'},
        stdio: 'pipe',
      });
    });
  });
});
