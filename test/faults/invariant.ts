/**
 * The one invariant every case of the fault matrix ends on: the
 * day's current run ends in
 *  - `_SUCCESS` with every exportable recording in the bucket, byte-identical
 *    to the simulator's ground truth, or
 *  - `_FAILURE` listing exactly the recordings that could not be exported;
 * with exactly one email per outcome the developers had to hear about, and
 * never a partial or wrong object kept as the record: every recording object
 * in the bucket holds the source's bytes, or its recording is a listed gap.
 */
import * as assert from 'node:assert';
import type {Stack} from '../../local/stack';
import {
  DayMarker,
  Truth,
  TruthRecording,
  fetchTruth,
  mailAbout,
  readJson,
  storeFor,
  waitForMarker,
} from '../../local/run-day';
import type {DayPlan} from '../../functions/core/day-plan';
import type {BatchReport} from '../../functions/core/report';
import {lastEmailed} from '../../functions/core/ledger';
import type {Ledger} from '../../functions/core/ledger';
import {parseRecordingName, recordingFolders} from '../../functions/core/reports-vs-bucket';

/** What a case expects of the day. */
export interface Expectation {
  /**
   * The recordings (`conversationId/recordingId`) that cannot be exported, given
   * the truth and the run's reports; the day is `_SUCCESS` exactly when empty.
   */
  failed: (truth: Truth, reports: BatchReport[]) => Set<string>;
  /** Outcomes of the day the developers were emailed about, in order (checked against the sink). */
  emails?: number;
}

export interface Verdict {
  marker: DayMarker;
  ledger: Ledger;
  truth: Truth;
  summary: string;
}

const UNAVAILABLE = new Set(['ARCHIVED', 'UPLOADING', 'ERROR', 'RESTORING']);

/** The recordings the source itself cannot give (a lossy day's archived, uploading, … ones). */
export function unavailable(truth: Truth): Set<string> {
  return new Set(
    truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => UNAVAILABLE.has(r.fileState))
        .map(r => `${c.conversationId}/${r.recordingId}`),
    ),
  );
}

/** Nothing is expected to fail. */
export const nothing = (): Set<string> => new Set();

/** The current run's reports, as the worker left them. */
export async function reportsOf(stack: Stack, env: string, plan: DayPlan): Promise<BatchReport[]> {
  const prefix = `${env}/${plan.day}/_manifest/runs/${plan.runId}/batches/`;
  const reports = await Promise.all(
    plan.batches.map(b => readJson<BatchReport>(stack, `${prefix}${b.batchId}.json`)),
  );
  return reports.filter((r): r is BatchReport => r !== undefined);
}

export async function assertDayInvariant(
  stack: Stack,
  env: string,
  day: string,
  expect: Expectation,
): Promise<Verdict> {
  const plan = await readJson<DayPlan>(stack, `${env}/${day}/_manifest/plan.json`);
  assert.ok(plan, `no plan for ${day}`);
  const {marker, ledger} = await waitForMarker(stack, env, day, {runId: plan.runId});
  const truth = await fetchTruth(stack, day);
  const reports = await reportsOf(stack, env, plan);
  const failed = expect.failed(truth, reports);

  // 1. The verdict and exactly the gaps.
  assert.strictEqual(
    marker.marker,
    failed.size === 0 ? '_SUCCESS' : '_FAILURE',
    `${day}: ${marker.marker} with gaps ${JSON.stringify(marker.gaps.slice(0, 5))}`,
  );
  const recordingsOf = new Map(
    truth.conversations.map(c => [c.conversationId, c.recordings.map(r => r.recordingId)]),
  );
  const listed = new Set<string>();
  for (const g of marker.gaps) {
    if (g.recordingId) listed.add(`${g.conversationId}/${g.recordingId}`);
    // A conversation-level gap (its batch failed) stands for every recording it has.
    else
      for (const r of recordingsOf.get(g.conversationId) ?? [])
        listed.add(`${g.conversationId}/${r}`);
  }
  assert.deepStrictEqual([...listed].sort(), [...failed].sort(), `${day}: the gaps listed`);

  // 2. Every recording that is not a gap is exported, byte-identical to the source.
  const store = storeFor(stack);
  const objects = (await Promise.all(recordingFolders(env, day).map(f => store.list(f))))
    .flat()
    .map(o => ({...o, recordingId: parseRecordingName(env, day, o.name)?.recordingId}));
  const byRecording = new Map(objects.map(o => [o.recordingId, o]));
  const truthOf = new Map<string, TruthRecording & {conversationId: string}>();
  for (const c of truth.conversations)
    for (const r of c.recordings)
      truthOf.set(r.recordingId, {...r, conversationId: c.conversationId});
  let verified = 0;
  for (const [recordingId, t] of truthOf) {
    const key = `${t.conversationId}/${recordingId}`;
    if (!t.exportable || failed.has(key)) continue;
    const o = byRecording.get(recordingId);
    assert.ok(o, `${day}: ${key} is not in the bucket`);
    // Chat transcripts are filtered by design: only their presence is held against the truth.
    if (t.media !== 'chat') {
      assert.strictEqual(o.size, t.size, `${day}: ${o.name} has ${o.size} bytes, not ${t.size}`);
      assert.strictEqual(o.md5Hash, t.md5Hash, `${day}: ${o.name} differs from the source`);
    }
    verified++;
  }

  // 3. Never a partial or wrong object kept as the record: any object whose bytes are not the
  //    source's is a listed gap.
  for (const o of objects) {
    const {recordingId} = o;
    const t = recordingId === undefined ? undefined : truthOf.get(recordingId);
    if (t?.media === 'chat') continue;
    if (t && t.exportable && o.size === t.size && o.md5Hash === t.md5Hash) continue;
    assert.ok(
      t && listed.has(`${t.conversationId}/${recordingId}`),
      `${day}: ${o.name} (${o.size} bytes) is not the source's recording and not a listed gap`,
    );
  }

  // 4. Exactly one email per outcome the developers had to hear about.
  // Outcome emails only: check-previous's notices ("no _SUCCESS …; rerun started") are not outcomes.
  const mails = (await mailAbout(stack, day)).filter(
    m => m.text.includes(`/${env}/${day}/`) && !m.subject.includes(': no _SUCCESS ('),
  );
  const emailed =
    (ledger.history ?? []).filter(h => h.emailed).length + (ledger.email.state === 'sent' ? 1 : 0);
  assert.strictEqual(
    mails.length,
    emailed,
    `${day}: ${mails.length} emails for ${emailed} emailed outcomes`,
  );
  if (expect.emails !== undefined)
    assert.strictEqual(mails.length, expect.emails, `${day}: emails`);
  if (marker.marker === '_FAILURE')
    assert.ok(
      ledger.email.state === 'sent' || lastEmailed(ledger),
      `${day}: a _FAILURE nobody was told about`,
    );

  return {
    marker,
    ledger,
    truth,
    summary:
      `${marker.marker}: ${verified} recordings byte-identical, ` +
      `${marker.gaps.length} gaps (${failed.size} expected), ${mails.length} email(s)`,
  };
}
