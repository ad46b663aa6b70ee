/**
 * The completeness promise end to end on the real stack: a day with
 * unavailable recordings ends in `_FAILURE` with every gap and one email;
 * racing and repeated finalize events change nothing; once the source
 * recovers, the exact replay commands from `_FAILURE`, run through the real
 * gcloud CLI against the Pub/Sub emulator, turn it into `_SUCCESS` (and say
 * so by email); an ad-hoc replay leaves the markers alone.
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {promisify} from 'node:util';
import type {Stack} from '../../local/stack';
import {LOCAL_DEVELOPERS, LOCAL_EXPORT_ENV} from '../../local/product';
import {
  DayMarker,
  DayResult,
  fetchTruth,
  readJson,
  runDay,
  storageFor,
  waitForMarker,
  invokeHeaders,
} from '../../local/run-day';
import {storageEventHeaders} from '../../local/gcs/events';
import type {Ledger} from '../../functions/core/ledger';
import {declareProductDays, eventually, useProductStack} from '../setup/stack';
import {eventDelivered, mailAbout, requireGcloud, withFaults} from '../helpers';

const run = promisify(execFile);
const env = LOCAL_EXPORT_ENV;
/** A fixed past day: the organisation is deterministic, so its gaps are too. */
const DAY = '2026-09-14';
declareProductDays('lossy', {[DAY]: 30});
/** A second failing day, for the SendGrid outage. */
const DAY_OUTAGE = '2026-09-16';
declareProductDays('lossy', {[DAY_OUTAGE]: 30});

describe('completeness: _FAILURE, one email, racing events, replay to _SUCCESS', function () {
  this.timeout(240_000);
  let stack: Stack;
  /** A request as the checker's Eventarc trigger sends it: with its identity's token. */
  const eventarc = (headers: Record<string, string>) => ({
    ...headers,
    ...invokeHeaders(stack, stack.functions.checker!.url, 'eventarc'),
  });
  let result: DayResult;
  let failure: DayMarker;

  before(async function () {
    this.timeout(200_000);
    stack = await useProductStack('lossy', {[DAY]: 30});
    result = await runDay(stack, {day: DAY, env, timeoutMs: 150_000});
    failure = result.marker!;
  });

  it('should write _FAILURE listing every unavailable recording with its reason', async () => {
    assert.strictEqual(failure.marker, '_FAILURE');
    assert.strictEqual(failure.day, DAY);
    assert.strictEqual(failure.runId, result.runId);
    assert.strictEqual(failure.env, env);
    const truth = await fetchTruth(stack, DAY);
    const unavailable = truth.conversations.flatMap(c =>
      c.recordings
        .filter(r => ['ARCHIVED', 'UPLOADING', 'ERROR', 'RESTORING'].includes(r.fileState))
        .map(r => `${c.conversationId}/${r.recordingId}`),
    );
    const states = new Set(truth.conversations.flatMap(c => c.recordings.map(r => r.fileState)));
    assert.ok(states.has('ARCHIVED') && states.has('ERROR'), 'archived and erroring recordings');
    assert.deepStrictEqual(
      failure.gaps.map(g => `${g.conversationId}/${g.recordingId}`).sort(),
      unavailable.sort(),
    );
    for (const g of failure.gaps) assert.match(g.reason, /ARCHIVED|UPLOADING|ERROR|RESTORING/);
    assert.strictEqual(failure.missing.recordings, unavailable.length);
    const all = truth.conversations.flatMap(c => c.recordings);
    assert.strictEqual(failure.totals.all.expected, all.length);
    assert.strictEqual(failure.totals.all.failed, unavailable.length);
    assert.strictEqual(
      failure.totals.all.skipped,
      all.filter(r => r.fileState === 'DELETED').length,
    );
    assert.strictEqual(failure.window.start, `${DAY}T00:00:00.000Z`);
    assert.ok(failure.seconds > 0);
    assert.ok(failure.replay.length >= 1);
    for (const r of failure.replay) {
      // The emulator's address is the shell's $PUBSUB_EMULATOR_HOST, never this stack's port.
      assert.match(
        r.command,
        /^CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="http:\/\/\$\{PUBSUB_EMULATOR_HOST:\?[^}]*\}\/" /,
      );
      assert.ok(!r.command.includes(stack.pubsubHost), r.command);
      assert.match(
        r.command,
        /gcloud pubsub topics publish recording-batches --project=demo-project/,
      );
      assert.ok(r.command.includes(`"batchId":"${r.batchId}"`));
    }
    assert.strictEqual(await readJson(stack, `${env}/${DAY}/_SUCCESS`), undefined);
  });

  it('should send exactly one email with the gaps by kind, their grm commands and the table', async () => {
    const mails = await mailAbout(stack, DAY);
    assert.strictEqual(mails.length, 1, mails.map(m => m.subject).join(' | '));
    const mail = mails[0]!;
    assert.deepStrictEqual(mail.to, [LOCAL_DEVELOPERS]);
    assert.strictEqual(
      mail.subject,
      `[genesys-recording-migrator] ${env} ${DAY}: _FAILURE, ${failure.missing.recordings} recording${failure.missing.recordings === 1 ? '' : 's'} missing`,
    );
    const text = mail.text;
    assert.ok(text.includes('expected  exported  skipped  failed'), text);
    // The gaps it lists are the day's, at most EMAIL_MAX_GAPS (25) of them, every kind named.
    const listed = [...text.matchAll(/^ {3}- \S+ \/ (\S+) /gm)].map(m => m[1]!);
    const ids = new Set(failure.gaps.map(g => g.recordingId));
    assert.ok(listed.length > 0 && listed.length <= 25, text);
    assert.ok(
      listed.every(id => ids.has(id)),
      'only gaps of the day',
    );
    assert.ok(text.includes(`grm replay ${DAY} --wait 600`), text);
    // The raw replay stays in _FAILURE, not in the email.
    for (const r of failure.replay) assert.ok(!text.includes(r.command));
    assert.ok(mail.html.includes('<table'));
    assert.ok(!text.includes('SG.') && !mail.html.includes('secret'));
  });

  it('should make one decision and send no second email when finalize events race and repeat', async () => {
    const bucket = storageFor(stack).bucket(stack.bucket);
    const report = failure.reports[0]!.object;
    const [md] = await bucket.file(report).getMetadata();
    const before = await bucket.file(`${env}/${DAY}/_FAILURE`).getMetadata();
    const ledgerBefore = await readJson<Ledger>(stack, `${env}/${DAY}/_manifest/decision.json`);
    const statuses = await Promise.all(
      Array.from({length: 12}, async () => {
        const res = await fetch(stack.functions.checker!.url, {
          method: 'POST',
          headers: eventarc(
            storageEventHeaders(
              randomUUID(),
              'google.cloud.storage.object.v1.finalized',
              md as {bucket: string; name: string; updated: string},
            ),
          ),
          body: JSON.stringify(md),
        });
        return res.status;
      }),
    );
    assert.deepStrictEqual(new Set(statuses), new Set([204]), `statuses ${statuses.join(',')}`);
    const after = await bucket.file(`${env}/${DAY}/_FAILURE`).getMetadata();
    assert.strictEqual(after[0].generation, before[0].generation, '_FAILURE was not rewritten');
    const ledgerAfter = await readJson<Ledger>(stack, `${env}/${DAY}/_manifest/decision.json`);
    assert.deepStrictEqual(ledgerAfter, ledgerBefore);
    assert.strictEqual((await mailAbout(stack, DAY)).length, 1);
  });

  it('should acknowledge a malformed storage event without deciding anything', async () => {
    const res = await fetch(stack.functions.checker!.url, {
      method: 'POST',
      headers: eventarc(
        storageEventHeaders(randomUUID(), 'google.cloud.storage.object.v1.finalized', {
          bucket: stack.bucket,
          name: '',
          updated: new Date().toISOString(),
        }),
      ),
      body: JSON.stringify({bucket: stack.bucket, name: 42}),
    });
    assert.ok(res.status >= 200 && res.status < 300, `HTTP ${res.status}`);
  });

  it('should leave the markers alone on an ad-hoc replay of some conversations', async () => {
    const bucket = storageFor(stack).bucket(stack.bucket);
    const before = await bucket.file(`${env}/${DAY}/_FAILURE`).getMetadata();
    const ids = failure.gaps.slice(0, 2).map(g => g.conversationId);
    const {PubSub} = await import('@google-cloud/pubsub');
    const ps = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
    try {
      await ps.topic(stack.topic).publishMessage({json: {day: DAY, conversationIds: ids}});
    } finally {
      await ps.close();
    }
    const report = await eventually(
      'the ad-hoc report',
      async () => {
        const [files] = await bucket.getFiles({prefix: `${env}/${DAY}/_manifest/adhoc/`});
        return files.find(f => /\/adhoc\/adhoc-[^/]+\.json$/.test(f.name))?.name;
      },
      60_000,
    );
    await eventually(
      "the report's event delivered to the checker and acknowledged",
      async () => ((await eventDelivered(stack, report)) ? true : undefined),
      60_000,
    );
    const after = await bucket.file(`${env}/${DAY}/_FAILURE`).getMetadata();
    assert.strictEqual(after[0].generation, before[0].generation);
    assert.strictEqual(await readJson(stack, `${env}/${DAY}/_SUCCESS`), undefined);
    assert.strictEqual((await mailAbout(stack, DAY)).length, 1);
  });

  it('should turn _FAILURE into _SUCCESS when the replay commands from _FAILURE run through gcloud', async () => {
    await requireGcloud();
    const recovered = await fetch(`${stack.genesysUrl}/_admin/recover?day=${DAY}`, {
      method: 'POST',
    });
    assert.strictEqual(recovered.status, 200);
    for (const r of failure.replay) {
      // In a shell with the stack's environment (the export lines npm run stack prints).
      const {stdout} = await run('bash', ['-c', r.command], {
        timeout: 60_000,
        env: {...process.env, ...stack.env},
      });
      assert.match(stdout, /messageIds:/);
    }
    const {marker, ledger} = await waitForMarker(stack, env, DAY, {
      runId: result.runId,
      want: '_SUCCESS',
      timeoutMs: 120_000,
    });
    assert.strictEqual(marker.totals.all.failed, 0);
    assert.strictEqual(marker.gaps.length, 0);
    // The history is every decision the markers showed, the first one emailed.
    assert.ok(marker.history!.length >= 1);
    assert.deepStrictEqual(marker.history![0]!.missing, failure.missing);
    assert.strictEqual(marker.history![0]!.emailed, true);
    for (const h of marker.history!) assert.strictEqual(h.status, 'failure');
    assert.strictEqual(ledger.email.kind, 'recovered');
    assert.strictEqual(await readJson(stack, `${env}/${DAY}/_FAILURE`), undefined);
    const mails = await mailAbout(stack, DAY);
    assert.strictEqual(mails.length, 2);
    assert.match(mails[1]!.subject, /_SUCCESS, the earlier _FAILURE is resolved/);
    assert.ok(
      mails[1]!.text.includes(`: ${failure.missing.recordings} recording`),
      'the resolved email cites what the first email said',
    );
    const truth = await fetchTruth(stack, DAY);
    const exportable = truth.conversations.flatMap(c => c.recordings).filter(r => r.exportable);
    assert.strictEqual(marker.totals.all.exported, exportable.length);
  });

  it('should keep _FAILURE through a SendGrid outage and send the email once on the redelivered event', async () => {
    const rule = {path: '^/v3/mail/send', action: 'status', status: 503, times: 4};
    await withFaults(stack.sendgridUrl, rule, async () => {
      const outage = await runDay(stack, {day: DAY_OUTAGE, env, timeoutMs: 150_000});
      assert.strictEqual(outage.marker?.marker, '_FAILURE');
      // The first invocation spent its 4 in-process attempts and threw; the event came back.
      assert.strictEqual(outage.ledger?.email.state, 'sent');
      assert.strictEqual(outage.ledger?.email.attempts, 2);
      assert.match(outage.ledger?.email.lastError ?? '', /HTTP 503/);
      const events = (await (await fetch(`${stack.gcsUrl}/_admin/events`)).json()) as {
        recent: Array<{subject: string; url: string; attempts: number; status: string}>;
      };
      assert.ok(
        events.recent.some(
          e =>
            e.url === stack.functions.checker!.url &&
            e.subject.includes(`/${DAY_OUTAGE}/_manifest/runs/`) &&
            e.attempts > 1 &&
            e.status === 'delivered',
        ),
        'a batch report event was redelivered to the checker',
      );
      assert.strictEqual((await mailAbout(stack, DAY_OUTAGE)).length, 1);
    });
  });
});
