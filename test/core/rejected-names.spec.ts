/**
 * Where a rejected delivery is recorded: a name of its own for every distinct
 * delivery (ids that sanitise alike, id-less deliveries with different
 * payloads), the same name for a redelivery of the same message, and nothing
 * from the id that could leave `{env}/_rejected/`.
 */
import * as assert from 'node:assert';
import {rejectedMessageObjectName} from '../../functions/core/object-names';

const NAME = /^brave\/_rejected\/[A-Za-z0-9_-]{1,64}-[0-9a-f]{32}\.json$/;

describe('rejected message names', () => {
  it('should keep ids that sanitise alike apart', () => {
    const a = rejectedMessageObjectName('brave', 'coll/1', '{"day":1}');
    const b = rejectedMessageObjectName('brave', 'coll.1', '{"day":1}');
    const c = rejectedMessageObjectName('brave', 'coll_1', '{"day":1}');
    assert.strictEqual(new Set([a, b, c]).size, 3);
    for (const name of [a, b, c]) {
      assert.match(name, NAME);
      assert.ok(name.startsWith('brave/_rejected/coll_1-'), name);
    }
  });

  it('should keep deliveries without an id apart by their payload', () => {
    const a = rejectedMessageObjectName('brave', 'unknown', '{"day":"2023-02-30"}');
    const b = rejectedMessageObjectName('brave', 'unknown', '{"day":"2023-02-31"}');
    assert.notStrictEqual(a, b);
    assert.notStrictEqual(
      rejectedMessageObjectName('brave', 'a', 'bc'),
      rejectedMessageObjectName('brave', 'ab', 'c'),
      'the id and the payload are hashed as a pair, not run together',
    );
  });

  it('should give a redelivery of the same message the same name', () => {
    assert.strictEqual(
      rejectedMessageObjectName('brave', '125', '"x"'),
      rejectedMessageObjectName('brave', '125', '"x"'),
    );
    assert.match(rejectedMessageObjectName('brave', '125', '"x"'), /^brave\/_rejected\/125-/);
  });

  it('should never let the id leave the folder or grow the name', () => {
    for (const id of ['../../x', '/etc/passwd', '', 'é'.repeat(300), 'a'.repeat(10_000), '.']) {
      const name = rejectedMessageObjectName('brave', id, 'null');
      assert.match(name, NAME);
      assert.ok(!name.includes('..'), name);
    }
    assert.strictEqual(
      rejectedMessageObjectName('brave', '../../x', 'null').slice(0, 24),
      'brave/_rejected/______x-',
    );
  });
});
