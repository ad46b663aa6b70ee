/**
 * `npm run stack`: starts everything, prints what a developer needs, and
 * stops every process it started on Ctrl-C (SIGINT) or SIGTERM.
 */
import * as assert from 'node:assert';
import {spawn} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {tcpOpen} from '../../local/common/processes';

describe('npm run stack', function () {
  this.timeout(120_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`should print the environment and leave no process behind on ${signal}`, async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-cli-'));
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', 'local/stack-cli.ts', '--root', root],
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
      for (const key of [
        'PUBSUB_EMULATOR_HOST',
        'STORAGE_EMULATOR_HOST',
        'SECRET_MANAGER_EMULATOR_HOST',
        'SENDGRID_API_URL',
      ]) {
        assert.match(out, new RegExp(`export ${key}=`), `missing ${key} in:\n${out}`);
      }
      const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1]));
      assert.ok(ports.length >= 4, `expected the stand-ins' ports in:\n${out}`);
      for (const port of ports)
        assert.ok(await tcpOpen(port), `port ${port} should be open while the stack runs`);
      const exited = new Promise<number | null>(resolve =>
        proc.once('exit', code => resolve(code)),
      );
      proc.kill(signal);
      assert.strictEqual(await exited, 0);
      for (const port of ports)
        assert.ok(!(await tcpOpen(port)), `port ${port} is still open after ${signal}`);
    });
  }

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
    const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map(m => Number(m[1]));
    assert.ok(ports.length >= 5, out);
    const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)));
    proc.kill('SIGINT');
    assert.strictEqual(await exited, 130);
    await new Promise(r => setTimeout(r, 1500));
    for (const port of ports)
      assert.ok(!(await tcpOpen(port)), `port ${port} is still open after Ctrl-C`);
  });
});
