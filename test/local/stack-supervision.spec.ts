/**
 * The local stack supervises its function processes as Cloud Functions does
 * its instances: a process that dies (SIGKILL, a crash) is replaced on the
 * same port, so the Pub/Sub push endpoint and the GCS event subscription keep
 * reaching it, and what was sent while it was down arrives through the
 * platform's retries instead of being dead-lettered. Only stop() ends it.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {randomUUID} from 'node:crypto';
import {PubSub} from '@google-cloud/pubsub';
import {TestStack, eventually, useStack} from '../setup/stack';
import {startFunction} from '../../local/functions/runner';
import {tcpOpen} from '../../local/common/processes';
import {storageFor} from '../../local/run-day';

const RECORDER = path.join(__dirname, '..', 'fixtures', 'functions', 'recorder.ts');

describe('local stack: supervised function processes', function () {
  this.timeout(120_000);
  let stack: TestStack;

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
  });

  const alive = (pid: number | undefined) => {
    try {
      return pid !== undefined && process.kill(pid, 0);
    } catch {
      return false;
    }
  };

  it('should restart a SIGKILLed worker on the same port and deliver the message published while it was down', async () => {
    const worker = stack.functions.worker!;
    const {pid, port, restarts} = worker;
    worker.kill('SIGKILL');
    await eventually('the killed process to be gone', () => (alive(pid) ? undefined : true));

    const marker = randomUUID();
    const pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
    let messageId: string;
    try {
      messageId = await pubsub.topic(stack.topic).publishMessage({json: {marker}});
    } finally {
      await pubsub.close();
    }

    await eventually('the restart', () => (worker.restarts === restarts + 1 ? true : undefined));
    await worker.serving();
    assert.notStrictEqual(worker.pid, pid, 'a new process');
    assert.ok(alive(worker.pid));
    assert.strictEqual(worker.port, port);
    assert.strictEqual(worker.url, `http://127.0.0.1:${port}`);
    // Pushed to the same endpoint, through the subscription's retries (not dead-lettered).
    const event = await eventually(
      'the message at the restarted worker',
      () => stack.workerEvents().find(e => e.data.message?.messageId === messageId),
      30_000,
    );
    assert.strictEqual(event.failed, false);

    const log = fs.readFileSync(worker.child.logFile, 'utf8');
    assert.match(
      log,
      new RegExp(
        `function-recordEvent \\(pid ${pid}\\) exited unexpectedly \\(signal SIGKILL\\); restarting it on port ${port} in \\d+ ms`,
      ),
    );
    assert.match(log, new RegExp(`restarted \\(pid ${worker.pid}, restart ${restarts + 1}\\)`));
  });

  it('should restart a checker that crashed and deliver the finalize event of an object written meanwhile', async () => {
    const checker = stack.functions.checker!;
    const {pid, restarts} = checker;
    checker.kill('SIGABRT');
    await eventually('the crashed process to be gone', () => (alive(pid) ? undefined : true));
    const name = `supervision/${randomUUID()}.txt`;
    await storageFor(stack).bucket(stack.bucket).file(name).save('x', {resumable: false});
    await eventually('the restart', () => (checker.restarts === restarts + 1 ? true : undefined));
    await checker.serving();
    assert.notStrictEqual(checker.pid, pid);
    const event = await eventually(
      'the finalize event at the restarted checker',
      () => stack.checkerEvents().find(e => e.subject === `objects/${name}`),
      30_000,
    );
    assert.strictEqual(event.type, 'google.cloud.storage.object.v1.finalized');
  });

  it('should not restart a function the stack stops, and back off while a process keeps dying', async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-supervision-'));
    const fn = await startFunction(
      {target: 'recordEvent', signature: 'cloudevent', source: RECORDER},
      {
        logDir,
        env: {...process.env, RECORDER_FILE: path.join(logDir, 'events.jsonl')},
        supervision: {initialBackoffMs: 100, maxBackoffMs: 400},
      },
    );
    try {
      for (let i = 1; i <= 3; i++) {
        const pid = fn.pid;
        fn.kill('SIGKILL');
        await eventually(`restart ${i}`, () => (fn.restarts === i ? true : undefined), 30_000);
        await fn.serving();
        assert.notStrictEqual(fn.pid, pid);
      }
      const delays = [
        ...fs
          .readFileSync(fn.child.logFile, 'utf8')
          .matchAll(/restarting it on port \d+ in (\d+) ms/g),
      ].map(m => Number(m[1]));
      assert.deepStrictEqual(delays, [100, 200, 400]);
      const res = await fetch(fn.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-id': 'after-restarts',
          'ce-specversion': '1.0',
          'ce-source': '//test',
          'ce-type': 'test.event',
        },
        body: '{}',
      });
      assert.strictEqual(res.status, 204, 'the last process serves');
    } finally {
      const pid = fn.pid;
      await fn.stop();
      assert.ok(!alive(pid));
    }
    await new Promise(r => setTimeout(r, 1000));
    assert.strictEqual(fn.restarts, 3);
    assert.ok(!(await tcpOpen(fn.port)), 'nothing listens on the port after stop()');
    const log = fs.readFileSync(fn.child.logFile, 'utf8');
    assert.strictEqual(log.match(/exited unexpectedly/g)?.length, 3, 'stop() is no crash');
    fs.rmSync(logDir, {recursive: true, force: true});
  });
});

describe('local stack: a function redeployed with new settings', function () {
  this.timeout(120_000);

  it('should replace its process on the same port with one that runs with the new environment, no restart counted', async () => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-redeploy-'));
    const before = path.join(logDir, 'before.jsonl');
    const after = path.join(logDir, 'after.jsonl');
    const fn = await startFunction(
      {target: 'recordEvent', signature: 'cloudevent', source: RECORDER},
      {logDir, env: {...process.env, RECORDER_FILE: before}},
    );
    const send = async (id: string) => {
      const res = await fetch(fn.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-id': id,
          'ce-specversion': '1.0',
          'ce-source': '//test',
          'ce-type': 'test.event',
        },
        body: '{}',
      });
      assert.strictEqual(res.status, 204);
    };
    const ids = (file: string) =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(l => (JSON.parse(l) as {id: string}).id)
        : [];
    try {
      await send('first');
      const {pid, port} = fn;
      await fn.redeploy({RECORDER_FILE: after});
      assert.notStrictEqual(fn.pid, pid, 'a new process');
      assert.strictEqual(fn.port, port);
      await send('second');
      assert.deepStrictEqual([ids(before), ids(after)], [['first'], ['second']]);
      assert.strictEqual(fn.restarts, 0, 'a redeploy is no crash');
      const log = fs.readFileSync(fn.child.logFile, 'utf8');
      assert.doesNotMatch(log, /exited unexpectedly/);
      assert.match(log, new RegExp(`redeployed \\(pid ${fn.pid}\\)`));
    } finally {
      await fn.stop();
      fs.rmSync(logDir, {recursive: true, force: true});
    }
  });
});
