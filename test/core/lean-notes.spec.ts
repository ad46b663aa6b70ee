import * as assert from 'node:assert';
import {leanNotes} from '../../functions/core/lean-notes';

describe("the day's lines about lean mode refused (leanNotes)", () => {
  const lacks =
    'OAuth client 1 does not hold recording:recording:viewSensitiveData (in no division, says Genesys)';
  const unknown =
    'whether OAuth client 0 holds recording:recording:viewSensitiveData could not be checked (HTTP 403)';

  it('should say nothing when every batch ran in the mode configured', () => {
    assert.deepStrictEqual(leanNotes([]), []);
    assert.deepStrictEqual(leanNotes([{}, {leanRefused: undefined}, {leanRefused: ''}]), []);
  });

  it('should give one line per reason, with how many of the batches it sent to full mode', () => {
    const reports = [
      {leanRefused: lacks},
      {},
      {leanRefused: unknown},
      {leanRefused: lacks},
      {metadataMode: 'lean' as const},
    ];
    assert.deepStrictEqual(leanNotes(reports), [
      `METADATA=lean refused for 2 of 5 batches, which ran in full mode (recording metadata per conversation): ${lacks}`,
      `METADATA=lean refused for 1 of 5 batches, which ran in full mode (recording metadata per conversation): ${unknown}`,
    ]);
    // The order does not depend on the reports' order.
    assert.deepStrictEqual(leanNotes([...reports].reverse()), leanNotes(reports));
    assert.match(leanNotes([{leanRefused: lacks}])[0]!, /^METADATA=lean refused for 1 of 1 batch,/);
  });
});
