/**
 * The replay commands of a local `_FAILURE` run in any shell that has the
 * stack's environment, however often the stack restarted since: the Pub/Sub
 * emulator's address comes from `$PUBSUB_EMULATOR_HOST` when the command
 * runs. Production commands carry no override at all.
 */
import * as assert from 'node:assert';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {replayCommand} from '../../functions/core/replay';

describe('replay commands run where the stack is now', () => {
  const message = {
    day: '2026-03-29',
    conversationIds: ["it's-a-conversation"],
    runId: 'r20260401t000000-ab12cd',
    batchId: 'b0001-1f2e3d4c5b6a',
  };
  let bin: string;

  before(() => {
    // A gcloud that prints what it was given instead of publishing.
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gcloud-'));
    fs.writeFileSync(
      path.join(bin, 'gcloud'),
      '#!/bin/sh\n' +
        'echo "endpoint=$CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"\n' +
        'echo "nocredentials=$CLOUDSDK_AUTH_DISABLE_CREDENTIALS"\n' +
        'for a in "$@"; do echo "arg=$a"; done\n',
      {mode: 0o755},
    );
  });
  after(() => fs.rmSync(bin, {recursive: true, force: true}));

  const runIn = (command: string, env: Record<string, string>) =>
    spawnSync('bash', ['-c', command], {
      env: {PATH: `${bin}:${process.env.PATH}`, ...env},
      encoding: 'utf8',
    });

  it('should reach the emulator of the environment it runs in, not of the stack that wrote it', () => {
    const command = replayCommand(
      {project: 'demo-project', topic: 'recording-batches', emulatorHost: '127.0.0.1:8085'},
      message,
    );
    for (const host of ['127.0.0.1:41234', 'localhost:8086']) {
      const r = runIn(command, {PUBSUB_EMULATOR_HOST: host});
      assert.strictEqual(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.deepStrictEqual(lines, [
        `endpoint=http://${host}/`,
        'nocredentials=true',
        'arg=pubsub',
        'arg=topics',
        'arg=publish',
        'arg=recording-batches',
        'arg=--project=demo-project',
        `arg=--message=${JSON.stringify(message)}`,
      ]);
    }
  });

  it('should stop and say why when the stack environment is not set', () => {
    const command = replayCommand(
      {project: 'demo-project', topic: 'recording-batches', emulatorHost: '127.0.0.1:8085'},
      message,
    );
    const r = runIn(command, {});
    assert.notStrictEqual(r.status, 0);
    assert.strictEqual(r.stdout, '', 'gcloud never ran');
    assert.match(r.stderr, /PUBSUB_EMULATOR_HOST: set it from npm run stack/);
  });

  it('should leave production commands unchanged: no override, nothing the shell expands', () => {
    const command = replayCommand({project: 'my-project', topic: 'grm-recording-batches'}, message);
    assert.strictEqual(
      command,
      `gcloud pubsub topics publish grm-recording-batches --project=my-project --message='${JSON.stringify(message).replace(/'/g, "'\\''")}'`,
    );
    const r = runIn(command, {PUBSUB_EMULATOR_HOST: '127.0.0.1:1'});
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /^endpoint=\n/);
  });
});
