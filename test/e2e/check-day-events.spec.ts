/**
 * The checker function (checkDay) on the real stack, fed CloudEvents the way
 * Eventarc posts them: a well-formed Cloud Storage event of a type other than
 * finalize (a deleted object, say) is acknowledged with an INFO line saying it
 * was ignored, and only a malformed event is logged as an ERROR.
 */
import * as assert from 'node:assert';
import {randomUUID} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {Stack} from '../../local/stack';
import {storageEventHeaders} from '../../local/gcs/events';
import {eventually, useProductStack} from '../setup/stack';
import {invokeHeaders} from '../../local/run-day';

interface LogLine {
  severity?: string;
  message?: string;
  eventId?: string;
  type?: string;
  object?: string;
}

describe('checker: CloudEvents that are not object finalizations', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('clean');
  });

  function linesOf(eventId: string): LogLine[] {
    const file = path.join(stack.dirs.logs, 'function-checkDay.log');
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(l => l.startsWith('{'))
      .map(l => JSON.parse(l) as LogLine)
      .filter(l => l.eventId === eventId);
  }

  async function post(id: string, type: string, data: unknown): Promise<number> {
    const resource = {
      bucket: stack.bucket,
      name: 'local/2026-01-01/x.json',
      updated: '2026-01-01T00:00:00Z',
    };
    const res = await fetch(stack.functions.checker!.url, {
      method: 'POST',
      headers: {
        ...storageEventHeaders(id, type, resource),
        ...invokeHeaders(stack, stack.functions.checker!.url, 'eventarc'),
      },
      body: JSON.stringify(data),
    });
    await res.arrayBuffer();
    return res.status;
  }

  for (const kind of ['deleted', 'metadataUpdated', 'archived']) {
    it(`should acknowledge an object ${kind} event with an INFO line that it was ignored`, async () => {
      const id = randomUUID();
      const type = `google.cloud.storage.object.v1.${kind}`;
      const name = `local/2026-01-01/_manifest/${kind}.json`;
      const status = await post(id, type, {
        kind: 'storage#object',
        bucket: stack.bucket,
        name,
        generation: '1700000000000001',
      });
      assert.ok(status >= 200 && status < 300, `HTTP ${status}`);
      const [line] = await eventually('the log line of the event', () => {
        const lines = linesOf(id);
        return lines.length > 0 ? lines : undefined;
      });
      assert.deepStrictEqual(
        linesOf(id).map(l => l.severity),
        ['INFO'],
      );
      assert.match(line!.message ?? '', /^ignored /);
      assert.strictEqual(line!.type, type);
      assert.strictEqual(line!.object, name);
    });
  }

  it('should still log a malformed storage event as an ERROR (and acknowledge it)', async () => {
    const id = randomUUID();
    const status = await post(id, 'google.cloud.storage.object.v1.deleted', {
      bucket: stack.bucket,
      name: 42,
    });
    assert.ok(status >= 200 && status < 300, `HTTP ${status}`);
    const lines = await eventually('the log line of the event', () => {
      const found = linesOf(id);
      return found.length > 0 ? found : undefined;
    });
    assert.deepStrictEqual(
      lines.map(l => l.severity),
      ['ERROR'],
    );
    assert.match(lines[0]!.message ?? '', /malformed storage event/);
  });

  it('should log an event of a type no Cloud Storage trigger delivers as an ERROR', async () => {
    const id = randomUUID();
    const status = await post(id, 'google.cloud.pubsub.topic.v1.messagePublished', {
      bucket: stack.bucket,
      name: 'local/2026-01-01/x.json',
    });
    assert.ok(status >= 200 && status < 300, `HTTP ${status}`);
    const lines = await eventually('the log line of the event', () => {
      const found = linesOf(id);
      return found.length > 0 ? found : undefined;
    });
    assert.deepStrictEqual(
      lines.map(l => l.severity),
      ['ERROR'],
    );
  });
});
