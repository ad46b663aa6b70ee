import * as assert from 'node:assert';
import {analyticsFacts, leanRecordings, leanType} from '../../functions/core/lean-inference';
import {
  MAX_POLL_MS,
  MIN_POLL_MS,
  firstPollDelay,
  learnMsPerItem,
  nextPollDelay,
} from '../../functions/core/polling';

const R = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const voice = (recording: boolean, screenRecording = false) => ({
  participants: [
    {purpose: 'customer', sessions: [{mediaType: 'voice', recording}]},
    {purpose: 'agent', screenRecording, sessions: [{mediaType: 'voice', recording}]},
  ],
});
const chat = {participants: [{purpose: 'customer', sessions: [{mediaType: 'chat'}]}]};
const chatWithScreen = {
  participants: [
    {purpose: 'customer', sessions: [{mediaType: 'chat'}]},
    {purpose: 'agent', screenRecording: true, sessions: [{mediaType: 'chat'}]},
  ],
};
/** A call with a consult: a second agent with a recorded voice session. */
const consult = {
  participants: [
    ...voice(true).participants,
    {purpose: 'agent', sessions: [{mediaType: 'voice', recording: true}]},
  ],
};
const good = (n: number, contentType: string) => ({
  conversationId: R(0),
  recordingId: R(n),
  contentType,
  resultUrl: `https://media/${n}`,
});

describe('lean metadata rules', () => {
  it('should read what analytics says was recorded', () => {
    assert.deepStrictEqual(analyticsFacts(voice(true, true)), {
      media: new Set(['voice']),
      audioRecorded: true,
      screenRecorded: true,
      recordedParties: {organisation: 1, customer: 1},
      screenRecorders: 1,
    });
    assert.deepStrictEqual(analyticsFacts(consult).recordedParties, {organisation: 2, customer: 1});
    assert.deepStrictEqual(analyticsFacts(undefined).media, new Set());
    assert.strictEqual(analyticsFacts({participants: 'nonsense'}).audioRecorded, false);
  });

  it("should tell a recording's type from its content type and the conversation's media", () => {
    const media = new Set(['voice']);
    assert.strictEqual(leanType('audio/ogg; codecs=opus', media), 'call');
    assert.strictEqual(leanType('video/webm', media), 'screen');
    assert.strictEqual(leanType('application/zip', new Set(['email'])), 'email');
    assert.strictEqual(leanType('application/json', new Set(['chat'])), 'chat');
    assert.strictEqual(leanType('application/json', new Set(['message'])), 'message');
    // A transcript of a conversation with both, or neither: cannot be told.
    assert.strictEqual(leanType('application/json', new Set(['chat', 'message'])), undefined);
    assert.strictEqual(leanType('application/octet-stream', media), undefined);
    // A kind the conversation's media cannot hold: its metadata decides.
    assert.strictEqual(leanType('application/zip', new Set(['chat'])), undefined);
    assert.strictEqual(leanType('audio/ogg', new Set(['chat'])), undefined);
    assert.strictEqual(leanType('video/webm', new Set(['chat'])), 'screen');
  });

  it('should take the recordings from good results, one per recording', () => {
    assert.deepStrictEqual(
      leanRecordings([good(1, 'audio/ogg'), good(2, 'video/webm')], voice(true, true)),
      {
        recordings: [
          {recordingId: R(1), type: 'call', contentType: 'audio/ogg'},
          {recordingId: R(2), type: 'screen', contentType: 'video/webm'},
        ],
      },
    );
    assert.deepStrictEqual(leanRecordings([good(1, 'application/json')], chat), {
      recordings: [{recordingId: R(1), type: 'chat', contentType: 'application/json'}],
    });
    assert.deepStrictEqual(
      leanRecordings([good(1, 'application/json'), good(2, 'video/webm')], chatWithScreen),
      {
        recordings: [
          {recordingId: R(1), type: 'chat', contentType: 'application/json'},
          {recordingId: R(2), type: 'screen', contentType: 'video/webm'},
        ],
      },
    );
  });

  it('should know a voice conversation analytics says was not recorded has no recordings', () => {
    assert.deepStrictEqual(leanRecordings([], voice(false)), {recordings: []});
  });

  const fallbacks: Array<[string, Parameters<typeof leanRecordings>, RegExp]> = [
    ['no result for a chat (analytics cannot say)', [[], chat], /no batch result/],
    [
      'no result for a recorded call (left out as sensitive?)',
      [[], voice(true)],
      /no batch result/,
    ],
    [
      'an error result (only the file state tells deleted from archived)',
      [
        [{conversationId: R(0), recordingId: R(1), errorMsg: 'Recording is archived.'}],
        voice(true),
      ],
      /an error result/,
    ],
    [
      'a result of an unknown type',
      [[good(1, 'application/octet-stream')], voice(true)],
      /content type/,
    ],
    [
      'audio recorded, only a screen result',
      [[good(2, 'video/webm')], voice(true, true)],
      /no audio result/,
    ],
    [
      'screen recorded, only an audio result',
      [[good(1, 'audio/ogg')], voice(true, true)],
      /no screen result/,
    ],
    [
      'a result without a recording id',
      [[{conversationId: R(0), errorMsg: 'x'}], voice(true)],
      /without a recording id/,
    ],
    [
      'two good results for one recording (duplicates)',
      [[good(1, 'audio/ogg'), good(1, 'audio/ogg')], voice(true)],
      /2 batch results for one recording/,
    ],
    [
      'an error and a good result for one recording (results that disagree)',
      [
        [{conversationId: R(0), recordingId: R(1), errorMsg: 'internal'}, good(1, 'audio/ogg')],
        voice(true),
      ],
      /2 batch results for one recording/,
    ],
    [
      'a consult: recorded voice sessions on two agents (one audio result cannot stand for both)',
      [[good(1, 'audio/ogg')], consult],
      /2 participants of the organisation's side/,
    ],
    [
      'a consult, even with two audio results',
      [[good(1, 'audio/ogg'), good(2, 'audio/ogg')], consult],
      /consult/,
    ],
    [
      'a conference: recorded voice sessions on two customers',
      [
        [good(1, 'audio/ogg')],
        {
          participants: [
            ...voice(true).participants,
            {purpose: 'external', sessions: [{mediaType: 'voice', recording: true}]},
          ],
        },
      ],
      /2 participants of the customer's side/,
    ],
    [
      'two participants with screen recording (one screen result cannot stand for both)',
      [
        [good(1, 'audio/ogg'), good(2, 'video/webm')],
        {
          participants: [
            ...voice(true, true).participants,
            {purpose: 'agent', screenRecording: true, sessions: [{mediaType: 'voice'}]},
          ],
        },
      ],
      /2 participants with screen recording/,
    ],
    [
      'a chat whose only result is a screen recording (its transcript left out)',
      [[good(2, 'video/webm')], chatWithScreen],
      /chat sessions; no chat result/,
    ],
    [
      'an email whose only result is a screen recording',
      [
        [good(2, 'video/webm')],
        {
          participants: [
            {purpose: 'customer', sessions: [{mediaType: 'email'}]},
            {purpose: 'agent', screenRecording: true, sessions: [{mediaType: 'email'}]},
          ],
        },
      ],
      /email sessions; no email result/,
    ],
    [
      'sessions of a media lean mode does not model',
      [
        [good(1, 'audio/ogg')],
        {
          participants: [
            ...voice(true).participants,
            {purpose: 'customer', sessions: [{mediaType: 'callback'}]},
          ],
        },
      ],
      /does not model \(callback\)/,
    ],
  ];
  for (const [name, args, why] of fallbacks) {
    it(`should read the recording metadata after ${name}`, () => {
      const verdict = leanRecordings(...args);
      assert.ok(verdict.fallback && why.test(verdict.fallback), JSON.stringify(verdict));
    });
  }
});

describe('batch download polling', () => {
  it('should first poll when a request of this size completed last time', () => {
    assert.strictEqual(firstPollDelay(100), 1000);
    assert.strictEqual(firstPollDelay(100, 7), 700);
    assert.strictEqual(firstPollDelay(1, 7), MIN_POLL_MS);
    assert.strictEqual(firstPollDelay(100, 1000), 10_000);
  });

  it('should poll again when the missing results should be ready at the rate seen', () => {
    // 40 of 100 results in 2 s: 60 more take 3 s (+10 %).
    assert.strictEqual(nextPollDelay(2000, 100, 40, 1000), 3300);
    assert.strictEqual(nextPollDelay(2000, 100, 99, 1000), MIN_POLL_MS);
    assert.strictEqual(nextPollDelay(60_000, 100, 1, 1000), MAX_POLL_MS);
    // Nothing yet: back off.
    assert.strictEqual(nextPollDelay(1000, 100, 0, 1000), 2000);
    assert.strictEqual(nextPollDelay(1000, undefined, undefined, 4000), MAX_POLL_MS);
  });

  it('should learn how long requests take per item', () => {
    assert.strictEqual(learnMsPerItem(undefined, 100, 700), 7);
    assert.strictEqual(learnMsPerItem(7, 100, 900), 8);
  });
});
