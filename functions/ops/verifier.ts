/**
 * `grm verify`'s I/O for one decided day: which marker is the checker's,
 * what it pins and what the day's records, index and objects must then be.
 * ops/verifier-reads.ts reads the day's bookkeeping, ops/verifier-objects.ts
 * checks the bucket's objects; core/verify*.ts judges. Nothing here stops at
 * a bad object: whatever cannot be read or understood becomes a finding of
 * its day.
 */
import {MAX_LEDGER_BYTES, MAX_PLAN_BYTES} from '../core/limits';
import {PermanentError} from '../core/errors';
import {decisionObjectName, markerObjectName, planObjectName} from '../core/object-names';
import {
  DayVerification,
  Expected,
  Finding,
  expectedFromRecords,
  expectedObjects,
} from '../core/verify';
import {
  redecidedAfterSuccess,
  reportsAgainstRecords,
  totalsAgainstReports,
} from '../core/verify-bookkeeping';
import {retentionSummary, unretained} from '../core/verify-objects';
import {ObjectCheckDeps, checkObjects} from './verifier-objects';
import {BookkeepingReader, LedgerView} from './verifier-reads';

/** The bucket, the clock and a way to read an object's bytes back. */
export type VerifierDeps = ObjectCheckDeps;

export interface VerifyOptions {
  /** Read every object back and hash it. */
  deep?: boolean;
  /** Every recording and metadata document must have been written with a retention. */
  requireRetention?: boolean;
}

type ReportRef = {batchId?: unknown; object?: unknown; generation?: unknown};

export class Verifier {
  private readonly read: BookkeepingReader;

  constructor(private readonly deps: VerifierDeps) {
    this.read = new BookkeepingReader(deps);
  }

  /**
   * The day's verification. An error that stops it (the bucket unreachable,
   * an object it cannot read) is itself a finding of the day, so a range
   * always reports every day.
   */
  async verifyDay(day: string, opts: VerifyOptions = {}): Promise<DayVerification> {
    const findings: Finding[] = [];
    try {
      return await this.verify(day, opts, findings);
    } catch (err) {
      findings.push({
        kind: 'unverifiable',
        object: `${this.deps.env}/${day}/`,
        detail: `verification stopped: ${err instanceof Error ? err.message : String(err)}`,
      });
      return {
        day,
        deep: opts.deep === true,
        reports: 0,
        objects: 0,
        bytes: 0,
        findings,
        intact: false,
      };
    }
  }

  private async verify(
    day: string,
    opts: VerifyOptions,
    findings: Finding[],
  ): Promise<DayVerification> {
    const {env, store} = this.deps;
    const deep = opts.deep === true;
    const result = (rest: Partial<DayVerification>): DayVerification => ({
      day,
      deep,
      reports: 0,
      objects: 0,
      bytes: 0,
      ...rest,
      findings,
      intact: findings.length === 0,
    });
    const successName = markerObjectName(env, day, '_SUCCESS');
    const failureName = markerObjectName(env, day, '_FAILURE');
    const ledgerName = decisionObjectName(env, day);
    const [success, failure, plan, ledger] = await Promise.all([
      this.read.marker(successName, findings),
      this.read.marker(failureName, findings),
      store
        .readJson<{runId?: string; createdAt?: string}>(planObjectName(env, day), MAX_PLAN_BYTES)
        .catch(() => undefined),
      store.readJson<LedgerView>(ledgerName, MAX_LEDGER_BYTES).catch((err: unknown) => {
        if (!(err instanceof PermanentError)) throw err;
        findings.push({kind: 'altered', object: ledgerName, detail: `unreadable: ${err.message}`});
        return undefined;
      }),
    ]);
    const picked = success ?? failure;
    if (!picked) {
      findings.push({
        kind: 'missing',
        object: successName,
        detail: 'the day has no marker: it was never decided, so there is nothing to verify',
      });
      return result({});
    }
    const marker = picked.value;
    const markerName = success ? successName : failureName;
    if (success && failure)
      findings.push({
        kind: 'extra',
        object: failureName,
        detail: 'both markers exist; only _SUCCESS was verified',
      });
    if (
      !ledger ||
      ledger.value.fingerprint !== marker.fingerprint ||
      ledger.value.runId !== marker.runId
    )
      findings.push({
        kind: 'altered',
        object: markerName,
        detail: `not the checker's decision: its run and fingerprint are not those of ${ledgerName}`,
      });
    if (!success)
      findings.push({
        kind: 'missing',
        object: successName,
        detail: `the day is _FAILURE (${marker.gaps?.length ?? 0} gaps): only what it records as exported was verified`,
      });
    if (plan?.value.runId && plan.value.runId !== marker.runId)
      findings.push({
        kind: 'unverifiable',
        object: planObjectName(env, day),
        detail: `run ${plan.value.runId} (planned ${plan.value.createdAt ?? '?'}) is not decided yet: its writes may show as findings until it is; verify again then`,
      });
    const redecided = redecidedAfterSuccess(marker);
    if (redecided) findings.push({kind: 'altered', object: markerName, detail: redecided});

    const refs: ReportRef[] = Array.isArray(marker.reports) ? marker.reports : [];
    const valid = refs.filter(
      (r): r is {object: string; generation: string} =>
        typeof r.object === 'string' &&
        r.object.startsWith(`${env}/${day}/_manifest/`) &&
        typeof r.generation === 'string' &&
        /^\d+$/.test(r.generation),
    );
    if (valid.length < refs.length || refs.length !== marker.batches)
      findings.push({
        kind: 'altered',
        object: markerName,
        detail: `it names ${refs.length} reports (${refs.length - valid.length} malformed) for ${String(marker.batches)} planned batches`,
      });
    const {reports, live} = await this.read.pinnedReports(valid, findings);

    const records = await this.read.records(day, ledger?.value, findings);
    let expected: Map<string, Expected>;
    if (records) {
      expected = expectedFromRecords(records);
      findings.push(...reportsAgainstRecords([...reports, ...live], records));
      findings.push(...(await this.read.checkIndex(day, records, ledger?.value)));
    } else {
      const fromReports = expectedObjects(reports);
      expected = fromReports.expected;
      findings.push(...fromReports.findings);
    }
    findings.push(...totalsAgainstReports(markerName, marker, reports));
    if (opts.requireRetention) findings.push(...unretained(expected));

    const objects = await checkObjects(this.deps, day, expected, deep);
    findings.push(...objects.findings);
    return result({
      marker: success ? '_SUCCESS' : '_FAILURE',
      runId: marker.runId,
      reports: reports.length,
      objects: expected.size,
      bytes: objects.bytes,
      retention: retentionSummary(expected),
      proof: records ? 'decided records' : 'reports',
    });
  }
}
