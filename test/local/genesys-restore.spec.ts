/**
 * Archive and restore in the Genesys Cloud simulator, through the official
 * SDK (`RecordingApi.putConversationRecording`): a later archive date on an
 * ARCHIVED recording restores it (RESTORING for `restoreDelayMs`, then
 * RESTORED and downloadable until that date, then ARCHIVED again); a PUT on a
 * restoring or restored recording moves its date without restarting the
 * restore; the route answers 404, 400 and 403 with an ErrorBody; metadata,
 * the single-recording GET and the ground truth agree on the state.
 */
import * as assert from 'node:assert';
import {createHash} from 'node:crypto';
import type {Models} from 'purecloud-platform-client-v2';
import {DAY, SdkClient, TestSimulator, sdkClient, startSimulator} from '../setup/simulator';
import {eventually} from '../setup/stack';
import {Checksums} from '../../local/gcs/streams';

const RESTORE = 'recording:recording:restore';
const EDIT_RETENTION = 'recording:recording:editRetention';
const NIL = '00000000-0000-0000-0000-000000000000';
const SECRETS = {
  'demo-client': 'demo-secret',
  'no-restore': 'no-restore-secret',
  'no-retention': 'no-retention-secret',
};

interface TruthRecording {
  recordingId: string;
  media: string;
  fileState: string;
  exportable: boolean;
  sensitive: boolean;
  size?: number;
  md5Hash?: string;
  crc32c?: string;
  restoreExpirationTime?: string;
}

interface Truth {
  conversations: Array<{conversationId: string; recordings: TruthRecording[]}>;
}

interface ErrorBodyLike {
  status?: number;
  code?: string;
  message?: string;
  contextId?: string;
}

interface Target {
  conversationId: string;
  recordingId: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('Genesys simulator: archive and restore (official SDK)', function () {
  this.timeout(90_000);
  let sim: TestSimulator;
  let sdk: SdkClient;
  /** ARCHIVED recordings nobody flagged sensitive, each test takes its own. */
  const archived: Target[] = [];
  let available: Target;
  let deleted: Target;

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator([
      '--seed',
      'restore',
      '--conversations-per-day',
      '250',
      '--profile',
      'lossy',
      '--client',
      `demo-client:${SECRETS['demo-client']}`,
      '--client',
      `no-restore:${SECRETS['no-restore']};lacks=${RESTORE}`,
      '--client',
      `no-retention:${SECRETS['no-retention']};lacks=${EDIT_RETENTION}`,
      '--settings',
      JSON.stringify({transcodeMs: 0, batchDiscoveryMs: 0, batchPerResultMs: 0}),
    ]);
    sdk = await login();
    const truth = await sim.admin<Truth>(`truth?day=${DAY}&checksums=false`);
    const all = truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => !r.sensitive)
        .map(r => ({conversationId: c.conversationId, recordingId: r.recordingId, r})),
    );
    const pick = (state: string) => all.filter(x => x.r.fileState === state);
    archived.push(...pick('ARCHIVED'));
    available = pick('AVAILABLE')[0]!;
    deleted = pick('DELETED')[0]!;
    assert.ok(archived.length >= 8 && available && deleted, 'the lossy day has what we need');
  });

  after(async () => {
    await sim?.stop();
  });

  async function login(id: keyof typeof SECRETS = 'demo-client') {
    const client = sdkClient(sim.port);
    await client.client.loginClientCredentialsGrant(id, SECRETS[id]);
    return client;
  }

  const setDelay = (restoreDelayMs: number) =>
    sim.admin('config', {method: 'PATCH', body: {restoreDelayMs}});

  const meta = (t: Target) =>
    sdk.recording.getConversationRecordingmetadataRecordingId(t.conversationId, t.recordingId);

  const put = (t: Target, body: Models.Recording, client = sdk) =>
    client.recording.putConversationRecording(t.conversationId, t.recordingId, body);

  /** Waits until the recording's metadata says `state`, and returns it. */
  const reaches = (t: Target, state: string) =>
    eventually(
      `${t.recordingId} ${state}`,
      async () => {
        const m = await meta(t);
        return m.fileState === state ? m : undefined;
      },
      30_000,
      100,
    );

  async function batch(t: Target) {
    const {id} = await sdk.recording.postRecordingBatchrequests({batchDownloadRequestList: [t]});
    const done = await eventually('batch completed', async () => {
      const s = await sdk.recording.getRecordingBatchrequest(id!);
      return s.status === 'Completed' ? s : undefined;
    });
    assert.strictEqual(done.results?.length, 1);
    return done.results[0]!;
  }

  const truthOf = async (t: Target) => {
    const truth = await sim.admin<Truth>(`truth?day=${DAY}`);
    return truth.conversations
      .find(c => c.conversationId === t.conversationId)!
      .recordings.find(r => r.recordingId === t.recordingId)!;
  };

  const refused = (status: number, code: string, message: RegExp) => (e: ErrorBodyLike) => {
    assert.strictEqual(e.status, status);
    assert.strictEqual(e.code, code);
    assert.match(e.message ?? '', message);
    assert.ok(e.contextId);
    return true;
  };

  it('should show archived recordings as archived: dates, medium, quota fields, an error result', async () => {
    const t = archived[0]!;
    const m = await meta(t);
    assert.strictEqual(m.fileState, 'ARCHIVED');
    assert.strictEqual(m.archiveMedium, 'CLOUDARCHIVE');
    assert.ok(Date.parse(m.archiveDate!) <= Date.now(), 'archived in the past');
    assert.strictEqual(m.restoreExpirationTime, undefined);
    assert.strictEqual(m.maxAllowedRestorationsForOrg, 10000);
    assert.strictEqual(m.remainingRestorationsAllowedForOrg, 10000);
    const single = await sdk.recording.getConversationRecording(t.conversationId, t.recordingId);
    assert.strictEqual(single.fileState, 'ARCHIVED');
    assert.strictEqual(single.archiveDate, m.archiveDate);
    assert.strictEqual(single.mediaUris, undefined);
    const result = await batch(t);
    assert.ok(result.errorMsg && !result.resultUrl);
    assert.match(result.errorMsg, /archived/i);
    assert.strictEqual((await truthOf(t)).exportable, false);
    const other = await sdk.recording.getConversationRecordingmetadataRecordingId(
      available.conversationId,
      available.recordingId,
    );
    assert.strictEqual(other.archiveMedium, undefined);
    assert.strictEqual(other.archiveDate, undefined);
  });

  it('should restore: RESTORING, then RESTORED with its bytes until the date set, then ARCHIVED', async () => {
    const t = archived[1]!;
    await setDelay(1500);
    const until = iso(Date.now() + 15_000);
    const answer = await put(t, {archiveDate: until});
    assert.strictEqual(answer.fileState, 'RESTORING');
    assert.strictEqual(answer.restoreExpirationTime, until);
    assert.strictEqual(answer.archiveDate, until);
    assert.strictEqual(answer.id, t.recordingId);

    const restored = await reaches(t, 'RESTORED');
    assert.strictEqual(restored.restoreExpirationTime, until);
    assert.strictEqual(restored.archiveMedium, 'CLOUDARCHIVE');
    const truth = await truthOf(t);
    assert.ok(truth.exportable && truth.md5Hash && truth.crc32c);
    assert.strictEqual(truth.restoreExpirationTime, until);
    const result = await batch(t);
    assert.ok(result.resultUrl && !result.errorMsg, JSON.stringify(result));
    const bytes = Buffer.from(await (await fetch(result.resultUrl)).arrayBuffer());
    const sums = new Checksums();
    sums.update(bytes);
    assert.strictEqual(bytes.length, truth.size);
    assert.strictEqual(createHash('md5').update(bytes).digest('base64'), truth.md5Hash);
    assert.strictEqual(sums.digests().crc32c, truth.crc32c);

    const again = await reaches(t, 'ARCHIVED');
    assert.ok(Date.now() >= Date.parse(until), 'archived again only at the date set');
    assert.strictEqual(again.archiveDate, until);
    assert.strictEqual(again.restoreExpirationTime, undefined);
    assert.strictEqual((await truthOf(t)).exportable, false);
    assert.match((await batch(t)).errorMsg ?? '', /archived/i);

    // A lapsed restore can be asked for again, and starts over.
    const next = await put(t, {archiveDate: iso(Date.now() + 60_000)});
    assert.strictEqual(next.fileState, 'RESTORING');
  });

  it('should give an error result while restoring, and keep the restore going on a repeated PUT', async () => {
    const t = archived[2]!;
    await setDelay(2000);
    const first = await put(t, {archiveDate: iso(Date.now() + 600_000)});
    assert.strictEqual(first.fileState, 'RESTORING');
    assert.match((await batch(t)).errorMsg ?? '', /restor/i);
    // Were the restore to start over, the next PUT would leave it RESTORING for an hour.
    await setDelay(3_600_000);
    const later = iso(Date.now() + 900_000);
    const second = await put(t, {archiveDate: later});
    assert.strictEqual(second.fileState, 'RESTORING');
    assert.strictEqual(second.restoreExpirationTime, later);
    const restored = await reaches(t, 'RESTORED');
    assert.strictEqual(restored.restoreExpirationTime, later);
    const third = await put(t, {archiveDate: iso(Date.now() + 1_200_000)});
    assert.strictEqual(third.fileState, 'RESTORED', 'a PUT on a restored recording keeps it');
    // The same Recording sent back unchanged changes nothing.
    const same = await put(t, third);
    assert.strictEqual(same.fileState, 'RESTORED');
    assert.strictEqual(same.restoreExpirationTime, third.restoreExpirationTime);
  });

  it('should restore through a client lacking editRetention, and refuse one lacking restore with 403', async () => {
    await setDelay(3_600_000);
    const t = archived[3]!;
    const noRestore = await login('no-restore');
    await assert.rejects(
      put(t, {archiveDate: iso(Date.now() + 600_000)}, noRestore),
      refused(403, 'missing.permissions', new RegExp(RESTORE)),
    );
    assert.strictEqual((await meta(t)).fileState, 'ARCHIVED');
    const noRetention = await login('no-retention');
    const restoring = await put(t, {archiveDate: iso(Date.now() + 600_000)}, noRetention);
    assert.strictEqual(restoring.fileState, 'RESTORING');
    await assert.rejects(
      put(t, {deleteDate: iso(Date.now() + 86_400_000)}, noRetention),
      refused(403, 'missing.permissions', new RegExp(EDIT_RETENTION)),
    );
    const newDelete = iso(Date.now() + 86_400_000);
    const changed = await put(t, {deleteDate: newDelete}, noRestore);
    assert.strictEqual(changed.deleteDate, newDelete);
    assert.strictEqual(changed.fileState, 'RESTORING', 'a delete date alone restores nothing');
  });

  it('should archive an available recording at the archive date a PUT sets', async () => {
    const noRetention = await login('no-retention');
    const date = iso(Date.now() + 2000);
    await assert.rejects(
      put(available, {archiveDate: date}, noRetention),
      refused(403, 'missing.permissions', new RegExp(EDIT_RETENTION)),
    );
    const scheduled = await put(available, {archiveDate: date});
    assert.strictEqual(scheduled.fileState, 'AVAILABLE');
    assert.strictEqual(scheduled.archiveDate, date);
    const now = await reaches(available, 'ARCHIVED');
    assert.strictEqual(now.archiveMedium, 'CLOUDARCHIVE');
    assert.ok(Date.now() >= Date.parse(date));
  });

  it('should answer 404 for an unknown conversation or recording', async () => {
    const body = {archiveDate: iso(Date.now() + 600_000)};
    const t = archived[4]!;
    await assert.rejects(
      put({conversationId: NIL, recordingId: t.recordingId}, body),
      refused(404, 'not.found', /Conversation/),
    );
    await assert.rejects(
      put({conversationId: t.conversationId, recordingId: NIL}, body),
      refused(404, 'not.found', /Recording/),
    );
  });

  it('should answer 400 to a body it cannot take, and leave the recording archived', async () => {
    const t = archived[5]!;
    const bad: Array<[string, Models.Recording, RegExp]> = [
      [
        'a date that is no date-time',
        {archiveDate: 'next week'},
        /archiveDate must be an ISO-8601/,
      ],
      ['a date without a zone', {archiveDate: '2099-01-01T00:00:00'}, /ISO-8601/],
      ['an archive date in the past', {archiveDate: iso(Date.now() - 60_000)}, /future/],
      [
        'removing the archive date of an archived recording',
        {archiveDate: null as unknown as string},
        /later archiveDate/,
      ],
      [
        'a delete date in the past',
        {deleteDate: iso(Date.now() - 60_000)},
        /deleteDate must lie in the future/,
      ],
    ];
    for (const [what, body, message] of bad)
      await assert.rejects(put(t, body), refused(400, 'bad.request', message), what);
    await assert.rejects(
      put(deleted, {archiveDate: iso(Date.now() + 600_000)}),
      refused(400, 'bad.request', /DELETED/),
    );
    await assert.rejects(
      sdk.recording.putConversationRecording(
        t.conversationId,
        t.recordingId,
        {archiveDate: iso(Date.now() + 600_000)},
        {clearExport: 'maybe' as unknown as boolean},
      ),
      refused(400, 'bad.request', /clearExport/),
    );
    const token = (await sdk.client.loginClientCredentialsGrant('demo-client', 'demo-secret'))
      .accessToken;
    const raw = await fetch(
      `${sim.url}/api/v2/conversations/${t.conversationId}/recordings/${t.recordingId}`,
      {method: 'PUT', headers: {authorization: `Bearer ${token}`}, body: '[1]'},
    );
    assert.strictEqual(raw.status, 400);
    assert.strictEqual(((await raw.json()) as ErrorBodyLike).code, 'bad.request');
    assert.strictEqual((await meta(t)).fileState, 'ARCHIVED');
  });
});
