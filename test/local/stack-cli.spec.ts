/**
 * `npm run stack`: starts everything, prints what a developer needs, and
 * stops every process it started on Ctrl-C (SIGINT) or SIGTERM.
 */
import * as assert from 'node:assert';
import {ChildProcess, spawn, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {tcpOpen} from '../../local/common/processes';
import {MailBox} from '../../local/sendgrid/server';
import {defaultDay} from '../../functions/core/time-window';
import {requireGcloud} from '../helpers';

/** Starts `node --import tsx SCRIPT ARGS`; `waitFor` resolves once the output has `text`. */
function startCli(script: string, args: string[]) {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)));
  return {
    proc,
    exited,
    output: () => out,
    waitFor: (text: string, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          proc.stdout!.off('data', check);
          resolve();
        };
        const check = () => {
          if (out.includes(text)) done();
        };
        const timer = setTimeout(() => reject(new Error(`no "${text}" in:\n${out}`)), ms);
        proc.stdout!.on('data', check);
        void exited.then(code => reject(new Error(`exited early (${code}):\n${out}`)));
        check();
      }),
  };
}

/** The `export` lines printed, as a person pastes them into another shell. */
const exportLines = (out: string): string[] =>
  out
    .split('\n')
    .map(l => l.trim())
    .filter(l => l.startsWith('export '));

/** Runs `script` in bash after the pasted export lines, with nothing of ours in the environment. */
function inPastedShell(exports: string[], script: string) {
  return spawnSync('bash', ['-c', [...exports, 'set -e', script].join('\n')], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME},
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run stack', function () {
  this.timeout(120_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`should print the environment and leave no process behind on ${signal}`, async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-cli-'));
      // SIGTERM's stack runs the worker as a fleet of two processes (--workers).
      const fleet = signal === 'SIGTERM' ? ['--workers', '2'] : [];
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', 'local/stack-cli.ts', '--root', root, ...fleet],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
      proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`stack did not start:\n${out}`)), 90_000);
        proc.stdout.on('data', () => {
          if (out.includes('Press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.once('exit', code => reject(new Error(`stack exited early (${code}):\n${out}`)));
      });
      const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1]));
      const open = await Promise.all(ports.map(port => tcpOpen(port)));
      const exited = new Promise<number | null>(resolve =>
        proc.once('exit', code => resolve(code)),
      );
      proc.kill(signal);
      assert.strictEqual(await exited, 0);
      assert.ok(ports.length >= 4, `expected the stand-ins' ports in:\n${out}`);
      ports.forEach((port, i) =>
        assert.ok(open[i], `port ${port} should be open while the stack runs`),
      );
      for (const port of ports)
        assert.ok(!(await tcpOpen(port)), `port ${port} is still open after ${signal}`);
      assert.ok(out.includes(`list with npm run local:mail -- --root ${root})`), out);
      if (fleet.length) assert.match(out, /worker +exportBatch +\S+ +\(2 processes\)/);
      else assert.doesNotMatch(out, /processes\)/);
      // What the README promises `npm run stack` prints.
      for (const key of [
        'PUBSUB_EMULATOR_HOST',
        'STORAGE_EMULATOR_HOST',
        'SECRET_MANAGER_EMULATOR_HOST',
        'SENDGRID_API_URL',
        'GENESYS_SIMULATOR_URL',
        'PLANNER_URL',
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB',
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE',
        'CLOUDSDK_AUTH_ACCESS_TOKEN_FILE',
        'CLOUDSDK_CONFIG',
        'CLOUDSDK_CORE_PROJECT',
        'GCE_METADATA_HOST',
        'GRM_BUCKET',
        'GRM_PLANNER_URL',
      ]) {
        assert.match(out, new RegExp(`^  export ${key}=\\S`, 'm'), `missing ${key} in:\n${out}`);
      }
    });
  }

  it('should refuse a --workers that is not a whole number from 1', () => {
    for (const value of ['0', '1.5', 'x']) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'local/stack-cli.ts', '--workers', value],
        {encoding: 'utf8', timeout: 30_000},
      );
      assert.strictEqual(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /--workers must be/);
    }
  });

  it('should refuse a --retention-days or --retention-mode it cannot honour', () => {
    for (const [args, why] of [
      [['--retention-days', '0'], /--retention-days must be a whole number from 1 to 36500/],
      [['--retention-days', '7x'], /--retention-days must be/],
      [
        ['--retention-days', '7', '--retention-mode', 'Locked'],
        /--retention-mode must be unlocked or locked/,
      ],
      [['--retention-mode', 'locked'], /--retention-mode needs --retention-days/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'local/stack-cli.ts', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.strictEqual(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, why);
    }
  });

  it('should leave no process behind when the demo is interrupted with Ctrl-C', async () => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/demo.ts', '--conversations', '20'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${out}`)), 90_000);
      proc.stdout.on('data', () => {
        if (out.includes('Calling the planner')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const started = out;
    const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1]));
    const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)));
    proc.kill('SIGINT');
    assert.strictEqual(await exited, 130);
    assert.ok(ports.length >= 5, started);
    await new Promise(r => setTimeout(r, 1500));
    for (const port of ports)
      assert.ok(!(await tcpOpen(port)), `port ${port} is still open after Ctrl-C`);
    // A stack the demo stops at its end is nothing to paste into another shell.
    assert.doesNotMatch(started, /paste into another shell|^\s*export /m, started);
    assert.match(started, /The stack stops when the demo ends; .* --keep/);
  });

  it('should print export lines that reach the stack from another shell: $PLANNER_URL, gcloud on the emulators as the operator', async () => {
    await requireGcloud();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-cli-'));
    const cli = startCli('local/stack-cli.ts', ['--root', root]);
    try {
      await cli.waitFor('Press Ctrl-C', 90_000);
      const exports = exportLines(cli.output());
      const day = defaultDay(Date.now(), 'UTC', 5);
      const r = inPastedShell(
        exports,
        [
          // As docs/operations.md shows: the operator's ID token from the stack's metadata server.
          'TOKEN=$(curl -sS -H \'Metadata-Flavor: Google\' "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/identity?audience=$PLANNER_URL")',
          `curl -sS -X POST "$PLANNER_URL" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"day":"${day}","dryRun":true}' -w '\\n%{http_code}\\n'`,
          'gcloud pubsub topics list --project=demo-project --format="value(name)"',
          // The operator lists the bucket: gcloud sends the token of the file the stack keeps fresh.
          'gcloud storage ls "gs://$GRM_BUCKET" && echo listed',
          'curl -sS -o /dev/null -w "%{http_code}\\n" "$GENESYS_SIMULATOR_URL/_admin/truth?day=' +
            day +
            '"',
        ].join('\n'),
      );
      assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}\n${exports.join('\n')}`);
      const [plan, planStatus, ...rest] = r.stdout.trim().split('\n');
      assert.strictEqual(planStatus, '200', r.stdout);
      const summary = JSON.parse(plan!) as {dryRun: boolean; days: Array<{day: string}>};
      assert.strictEqual(summary.dryRun, true);
      assert.strictEqual(summary.days[0]!.day, day);
      assert.ok(rest.includes('projects/demo-project/topics/recording-batches'), r.stdout);
      assert.ok(rest.includes('listed'), r.stdout);
      // The token is in a file only its owner reads; the exports name the file, never the token.
      const tokenFile = /^export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=(\S+)$/m.exec(
        exports.join('\n'),
      )![1]!;
      assert.strictEqual(fs.statSync(tokenFile).mode & 0o077, 0);
      assert.ok(!exports.join('\n').includes(fs.readFileSync(tokenFile, 'utf8')));
      assert.strictEqual(rest[rest.length - 1], '200', r.stdout);
    } finally {
      cli.proc.kill('SIGTERM');
      await cli.exited;
      fs.rmSync(root, {recursive: true, force: true});
    }
  });

  it('should print the environment at the end of a demo with --keep, for the stack it leaves up', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-cli-'));
    const cli = startCli('local/demo.ts', ['--conversations', '5', '--keep', '--root', root]);
    try {
      await cli.waitFor('press Ctrl-C to stop it', 240_000);
      await new Promise(r => setTimeout(r, 200));
      const out = cli.output();
      const tail = out.slice(out.indexOf('--keep: the stack stays up'));
      const exports = exportLines(tail);
      for (const key of ['PUBSUB_EMULATOR_HOST', 'PLANNER_URL', 'GENESYS_SIMULATOR_URL'])
        assert.ok(
          exports.some(l => l.startsWith(`export ${key}=`)),
          `no ${key} after --keep:\n${out}`,
        );
      const planner = Number(/export PLANNER_URL=http:\/\/127\.0\.0\.1:(\d+)/.exec(tail)![1]);
      assert.ok(await tcpOpen(planner), 'the planner is up while the demo keeps the stack');
      cli.proc.kill('SIGINT');
      assert.strictEqual(await cli.exited, 0, out);
      await new Promise(r => setTimeout(r, 1000));
      assert.ok(!(await tcpOpen(planner)), 'the planner stops with the demo');
    } finally {
      // SIGTERM: the demo stops its children on it; SIGKILL would orphan them.
      if (cli.proc.exitCode === null) cli.proc.kill('SIGTERM');
      await cli.exited;
      fs.rmSync(root, {recursive: true, force: true});
    }
  });
});

describe('npm run local:mail', function () {
  this.timeout(30_000);
  let root: string;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-mail-'));
    const box = new MailBox(path.join(root, 'mail'));
    for (const subject of ['first subject', 'second subject']) {
      // Emails sort by the millisecond they arrived: keep these two apart.
      await new Promise(r => setTimeout(r, 5));
      box.save({
        from: {email: 'from@example.com'},
        personalizations: [{to: [{email: 'dev@example.com'}]}],
        subject,
        content: [{type: 'text/plain', value: `body of the ${subject}`}],
      });
    }
  });
  after(() => fs.rmSync(root, {recursive: true, force: true}));

  const mail = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'local/sendgrid/list-cli.ts', ...args], {
      encoding: 'utf8',
    });

  it('should print its flags on --help', () => {
    const r = mail('--help');
    assert.strictEqual(r.status, 0, r.stderr);
    for (const f of ['--root', '--dir', '--last', '--help'])
      assert.ok(r.stdout.includes(f), r.stdout);
    assert.strictEqual(r.stderr, '');
  });

  it('should list the emails under --root, as the stack and the demo keep them', () => {
    const r = mail('--root', root);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /to dev@example\.com {2}"first subject"[\s\S]*"second subject"/);
    const last = mail('--root', root, '--last');
    assert.strictEqual(last.status, 0, last.stderr);
    assert.match(last.stdout, /Subject: second subject/);
    assert.match(last.stdout, /body of the second subject/);
    const dir = mail('--dir', path.join(root, 'mail'), '--last');
    assert.match(dir.stdout, /body of the second subject/);
  });

  it('should say there is nothing, without creating anything, for a root without mail', () => {
    const empty = path.join(root, 'nothing-here');
    const r = mail('--root', empty);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(r.stdout.trim(), `No emails in ${path.join(empty, 'mail')}.`);
    assert.ok(!fs.existsSync(empty));
  });

  it('should refuse unknown or conflicting flags with the usage, not a stack trace', () => {
    for (const args of [['--nope'], ['--root', root, '--dir', root], ['--root']]) {
      const r = mail(...args);
      assert.strictEqual(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^local:mail: .*\n\nnpm run local:mail/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });
});
