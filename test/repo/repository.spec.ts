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
  it('should target Node.js 22 everywhere it runs', () => {
    const pkg = JSON.parse(read('package.json')) as {engines: {node: string}};
    assert.match(pkg.engines.node, /22/);
    assert.strictEqual(read('.nvmrc').trim(), '22');
    assert.match(read('infra/functions.tf'), /runtime\s+=\s+"nodejs22"/);
    assert.match(process.version, /^v22\./, 'tests run on Node 22 (local/require-node.cjs)');
  });

  describe('on another Node.js than 22', () => {
    // The machines' system Node (20) stands in for a user's other Node.
    const otherNode = ['/usr/bin/node', '/usr/local/bin/node'].find(n => {
      try {
        return !/^v22\./.test(execFileSync(n, ['--version'], {encoding: 'utf8'}));
      } catch {
        return false;
      }
    });

    it('should bring Node 22 itself before npm test, the demo and the local commands run', function () {
      this.timeout(300_000);
      if (!otherNode) this.skip();
      const pkg = JSON.parse(read('package.json')) as {scripts: Record<string, string>};
      assert.match(pkg.scripts.pretest!, /^node local\/require-node\.cjs && /);
      for (const s of ['predemo', 'prefaults', 'prestack', 'prebench', 'pretest:unit'])
        assert.strictEqual(pkg.scripts[s], 'node local/require-node.cjs', s);
      // Run by the other Node, as npm runs it there: Node 22 from .tools/ (installed when
      // missing), linked where npm looks first for every script's `node`.
      const run = spawnSync(otherNode!, ['local/require-node.cjs'], {cwd: ROOT, encoding: 'utf8'});
      assert.strictEqual(run.status, 0, run.stderr);
      assert.match(
        run.stderr,
        /running on Node v22\.\d+\.\d+ from \.tools\/ \(this shell has v\d+/,
      );
      const linked = path.join(ROOT, 'node_modules', '.bin', 'node');
      assert.match(execFileSync(linked, ['--version'], {encoding: 'utf8'}), /^v22\./);
      // What npm then runs: a script's `node` is Node 22, whatever Node started npm.
      const npm = path.join(path.dirname(otherNode!), 'npm');
      const viaNpm = spawnSync(npm, ['exec', '--', 'node', '--version'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {...process.env, PATH: `${path.dirname(otherNode!)}:/usr/bin:/bin`},
      });
      assert.match(viaNpm.stdout, /^v22\./, viaNpm.stderr);
      // On Node 22 it does nothing.
      const same = spawnSync(process.execPath, ['local/require-node.cjs'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.deepStrictEqual([same.status, same.stderr], [0, '']);
    });

    it('should let npm ci install on it (the engines of the project and its dependencies only warn)', function () {
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
      assert.strictEqual(run.status, 0, run.stdout + run.stderr);
      assert.doesNotMatch(run.stderr, /npm error/);
    });
  });

  it('should run only the spec files named on the command line (npx mocha FILE)', function () {
    this.timeout(60_000);
    const file = 'test/core/time-window.spec.ts';
    const run = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), file, '--reporter', 'json'],
      {cwd: ROOT, encoding: 'utf8', env: {...process.env, METADATA_SERVER_DETECTION: 'none'}},
    );
    assert.strictEqual(run.status, 0, run.stderr);
    const json = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
      tests: Array<{file: string}>;
    };
    const files = new Set(json.tests.map(t => path.relative(ROOT, t.file)));
    assert.deepStrictEqual([...files], [file]);
  });

  it('should run the fault matrix and the gcloud suite from their own configs (a --config value names no spec)', function () {
    this.timeout(120_000);
    for (const [config, dir] of [
      ['.mocharc.faults.cjs', 'test/faults'],
      ['.mocharc.gcloud.cjs', 'test/gcloud'],
    ] as const) {
      const run = spawnSync(
        process.execPath,
        [
          path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
          '--config',
          config,
          '--dry-run',
          '--reporter',
          'json',
        ],
        {cwd: ROOT, encoding: 'utf8', env: {...process.env, METADATA_SERVER_DETECTION: 'none'}},
      );
      assert.strictEqual(run.status, 0, run.stderr.slice(-2000));
      const json = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
        tests: Array<{file: string}>;
      };
      const files = [...new Set(json.tests.map(t => path.relative(ROOT, t.file)))];
      assert.ok(files.length > 0, `${config} runs some tests`);
      assert.deepStrictEqual(
        files.filter(f => !f.startsWith(`${dir}/`)),
        [],
        `${config} runs only ${dir}`,
      );
    }
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

  describe('the Cloud Build files', () => {
    interface Step {
      id: string;
      name: string;
      args?: string[];
      entrypoint?: string;
    }
    interface Build {
      steps: Step[];
      substitutions: Record<string, string>;
      options: {machineType?: string; logging?: string};
      timeout: string;
    }
    const FILES = fs.readdirSync(ROOT).filter(f => /^cloudbuild.*\.ya?ml$/.test(f));
    const build = (f: string) => parseYaml(read(f)) as Build;
    /** Everything a step runs, as one string (the Terraform image's entrypoint is terraform). */
    const script = (s: Step) =>
      [
        s.entrypoint ?? (s.name === '${_TERRAFORM_IMAGE}' ? 'terraform' : ''),
        ...(s.args ?? []),
      ].join(' ');
    const step = (f: string, id: string) =>
      build(f).steps.find(s => s.id === id) ?? assert.fail(`${f} has no step ${id}`);
    const all = (f: string) => build(f).steps.map(script).join('\n');

    it('should be the test, plan and apply builds', () => {
      assert.deepStrictEqual(FILES.sort(), [
        'cloudbuild-apply.yaml',
        'cloudbuild-test.yaml',
        'cloudbuild.yaml',
      ]);
    });

    it("should match Cloud Build's Build schema, name every step and pin every image by digest", () => {
      for (const f of FILES) {
        assert.deepStrictEqual(validateBuild(parseYaml(read(f))), [], f);
        const {steps, substitutions, options, timeout} = build(f);
        assert.ok(steps.length > 0, f);
        for (const s of steps) {
          assert.ok(s.id, `${f}: every step needs an id`);
          const image = /^\$\{(_[A-Z_]+_IMAGE)\}$/.exec(s.name)?.[1];
          assert.ok(image, `${f}: ${s.id}: the image comes from an _..._IMAGE substitution`);
          assert.match(
            substitutions[image]!,
            /^[a-z0-9./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$/,
            `${f}: ${image}`,
          );
        }
        assert.ok(options.machineType, `${f}: a machine type`);
        assert.ok(parseInt(timeout, 10) >= 1200 && parseInt(timeout, 10) <= 7200, timeout);
        // A user-specified service account must log to Cloud Logging (or a bucket of its own).
        assert.strictEqual(options.logging, 'CLOUD_LOGGING_ONLY', f);
      }
    });

    it('should run the test suite in its own build, which touches no deployment', () => {
      const f = 'cloudbuild-test.yaml';
      assert.match(script(step(f, 'Test')), /bash \.ci\/run/);
      assert.doesNotMatch(all(f), /terraform|gcloud |_TF_STATE|_PLAN_BUCKET/);
      for (const other of ['cloudbuild.yaml', 'cloudbuild-apply.yaml'])
        assert.doesNotMatch(all(other), /\.ci\/run|npm (ci|test|install)/, other);
    });

    it("should plan with the environment's variables from git, show the plan, and store it only for main", () => {
      const f = 'cloudbuild.yaml';
      assert.match(
        script(step(f, 'Terraform init')),
        /-backend-config=bucket=\$\{_TF_STATE_BUCKET\} -backend-config=prefix=\$\{_TF_STATE_PREFIX\}/,
      );
      assert.match(script(step(f, 'Terraform validate')), /-chdir=infra validate/);
      const plan = script(step(f, 'Terraform plan'));
      assert.match(plan, /-var-file=env\/\$\{_ENV\}\.tfvars -out=tfplan/);
      assert.match(plan, /\[ -z "\$_PR_NUMBER" \] \|\| lock=-lock=false/);
      assert.match(script(step(f, 'Show the plan')), /-chdir=infra show -no-color tfplan/);
      const store = script(step(f, 'Store the plan'));
      assert.match(store, /if \[ -n "\$_PR_NUMBER" \]; then .*exit 0; fi/);
      assert.match(
        store,
        /tar -C infra -czf plan\.tgz tfplan \.build\/source\.zip \.terraform\.lock\.hcl/,
      );
      assert.match(store, /sha256sum plan\.tgz/);
      const stepIds = build(f).steps.map(s => s.id);
      assert.ok(stepIds.indexOf('Show the plan') < stepIds.indexOf('Store the plan'));
      assert.match(
        script(step(f, 'Check the substitutions')),
        /-f "infra\/env\/\$\{_ENV\}\.tfvars"/,
      );
      // It never applies, and nothing reads variables from outside the repository.
      assert.doesNotMatch(all(f), /terraform\s+(-chdir=\S+\s+)?apply|gs:\/\/\S*tfvars/);
    });

    it('should apply exactly the plan stored for its commit, after checking its SHA-256, and never plan', () => {
      const f = 'cloudbuild-apply.yaml';
      const where = (text: string) =>
        [...text.matchAll(/gs:\/\/(\$\{_PLAN_BUCKET\}\/\$\{_ENV\}\/\$COMMIT_SHA\/)/g)].map(
          m => m[1],
        );
      const stored = where(script(step('cloudbuild.yaml', 'Store the plan')));
      const fetched = where(script(step(f, 'Fetch the stored plan')));
      assert.ok(stored.length === 1 && fetched.length === 2, `${stored.join()} ${fetched.join()}`);
      assert.ok(
        fetched.every(w => w === stored[0]),
        'the apply fetches where the plan build stores',
      );
      const fetch = script(step(f, 'Fetch the stored plan'));
      assert.ok(fetch.indexOf('sha256sum -c') < fetch.indexOf('tar -C infra -xzf plan.tgz'));
      assert.deepStrictEqual(step(f, 'Terraform apply').args, [
        '-chdir=infra',
        'apply',
        '-input=false',
        '-lock-timeout=300s',
        'tfplan',
      ]);
      assert.doesNotMatch(
        all(f),
        /terraform\s+(-chdir=\S+\s+)?plan|-var-file|-auto-approve|tfvars/,
      );
      assert.match(script(step(f, 'Check the substitutions')), /\[ -z "\$_PR_NUMBER" \] \|\|/);
    });

    describe('the triggers infra/README.md creates', () => {
      interface Trigger {
        name: string;
        config: string;
        account: string;
        pullRequests: boolean;
        branch?: string;
        approval: boolean;
      }
      const triggers = (): Trigger[] => {
        const text = read('infra/README.md').replace(/\\\n\s*/g, ' ');
        return [...text.matchAll(/gcloud builds triggers create github ([^\n]*)/g)].map(m => {
          const flag = (n: string) => new RegExp(`--${n}=('[^']*'|\\S+)`).exec(m[1]!)?.[1];
          return {
            name: flag('name')!,
            config: flag('build-config')!,
            account: flag('service-account')!,
            pullRequests: flag('pull-request-pattern') !== undefined,
            branch: flag('branch-pattern'),
            approval: / --require-approval\b/.test(m[1]!),
          };
        });
      };

      it('should create a test, a pull-request plan, a main plan and an approved apply trigger, each with a build file of this repository', () => {
        const ts = triggers();
        assert.deepStrictEqual(
          ts.map(t => t.name),
          ['grm-test', 'grm-test-main', 'grm-pr-plan', 'grm-main-plan', 'grm-apply'],
        );
        for (const t of ts) assert.ok(FILES.includes(t.config), `${t.name}: ${t.config}`);
      });

      it('should run the deployer only on main, apply only after approval, and never test as the deployer', () => {
        const deployer = /serviceAccounts\/\$D$/;
        for (const t of triggers()) {
          if (t.pullRequests)
            assert.doesNotMatch(t.account, deployer, `${t.name} runs a pull request`);
          if (deployer.test(t.account)) assert.strictEqual(t.branch, "'^main$'", t.name);
          if (t.config === 'cloudbuild-apply.yaml') {
            assert.ok(t.approval && !t.pullRequests, `${t.name} applies without approval`);
            assert.match(t.account, deployer);
          }
          if (t.config === 'cloudbuild-test.yaml')
            assert.match(t.account, /serviceAccounts\/\$T$/, `${t.name} tests as ${t.account}`);
        }
        // The test identity holds nothing but the log writer role.
        const text = read('infra/README.md');
        const grants = [...text.matchAll(/--member=serviceAccount:\$T --role=(\S+)/g)].map(
          m => m[1],
        );
        assert.deepStrictEqual(grants, ['roles/logging.logWriter']);
      });
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
