import * as assert from 'node:assert';
import {InputError} from '../../functions/core/errors';
import {
  FINALIZED,
  STORAGE_EVENT_TYPES,
  parseStorageEvent,
} from '../../functions/core/storage-event';

describe('storage events (parseStorageEvent)', () => {
  it('should accept a finalize event', () => {
    assert.deepStrictEqual(
      parseStorageEvent({type: FINALIZED, data: {bucket: 'b', name: 'n', generation: '12'}}),
      {type: FINALIZED, bucket: 'b', name: 'n', generation: '12'},
    );
  });

  it('should accept every other Cloud Storage object event type as well-formed, with its type', () => {
    for (const type of STORAGE_EVENT_TYPES) {
      const event = parseStorageEvent({type, data: {bucket: 'b', name: 'local/x.json'}});
      assert.deepStrictEqual(event, {type, bucket: 'b', name: 'local/x.json'});
    }
    assert.deepStrictEqual(STORAGE_EVENT_TYPES, [
      'google.cloud.storage.object.v1.finalized',
      'google.cloud.storage.object.v1.deleted',
      'google.cloud.storage.object.v1.archived',
      'google.cloud.storage.object.v1.metadataUpdated',
    ]);
  });

  it('should refuse an event that is not a Cloud Storage object event', () => {
    for (const type of ['google.cloud.pubsub.topic.v1.messagePublished', undefined, 7]) {
      assert.throws(
        () => parseStorageEvent({type, data: {bucket: 'b', name: 'n'}}),
        (e: Error) => e instanceof InputError && /not a Cloud Storage object event/.test(e.message),
      );
    }
  });

  it('should name every problem of a malformed event, whatever its type', () => {
    for (const type of [FINALIZED, 'google.cloud.storage.object.v1.deleted']) {
      assert.throws(() => parseStorageEvent({type, data: 'x'}), /no object resource/);
      assert.throws(() => parseStorageEvent({type, data: null}), /no object resource/);
      assert.throws(
        () => parseStorageEvent({type, data: {bucket: '', name: 7, generation: 'g'}}),
        (e: Error) => {
          assert.ok(e instanceof InputError);
          assert.match(e.message, /^malformed storage event/);
          assert.match(e.message, /data\.bucket/);
          assert.match(e.message, /data\.name/);
          assert.match(e.message, /data\.generation/);
          return true;
        },
      );
    }
    assert.throws(
      () => parseStorageEvent({type: FINALIZED, data: {bucket: 'b', name: 'x'.repeat(1025)}}),
      /data\.name/,
    );
  });
});
