/**
 * The day's recordings index (`_index/day=…/recordings.ndjson`, its rows
 * built by core/recordings-index.ts): replaced by the rows of the ledger's
 * current outcome, streamed from the reports it was decided from, and
 * noted in the ledger by generation, so an index edited later is told from
 * the one the checker wrote.
 */
import {Readable} from 'node:stream';
import {RetryableError} from '../core/errors';
import {FINGERPRINT_KEY, INDEX_BASIS_KEY, RUN_ID_KEY, emailSettled} from '../core/ledger';
import {decisionObjectName, indexObjectName} from '../core/object-names';
import type {DayOutcome, Gap, ReportRef} from '../core/day-outcome';
import type {DayPlan} from '../core/day-plan';
import {IndexStats, NdjsonChunker} from '../core/index-ndjson';
import {batchRows, rowContext, unplannedRows} from '../core/recordings-index';
import type {Logger} from '../logger';
import {ObjectExistsError, ObjectStore, StoredObject} from '../ports';
import {MAX_ROUNDS, StoredLedger, readLedger, swapLedger} from './ledger';

export interface IndexDeps {
  settings: {env: string};
  store: ObjectStore;
  logger: Logger;
}

/** What the index is built from: the inputs of the day's verdict, and the verdict. */
export interface IndexInput {
  plan: Pick<DayPlan, 'day' | 'runId'>;
  /**
   * The reports the verdict was decided from, confirmed against the bucket,
   * one per planned batch in plan order (read again on every attempt).
   */
  batches: () => AsyncIterable<{batch: DayPlan['batches'][number]; ref: ReportRef}>;
  /** Recordings stored for conversations the plan lacks. */
  unplanned: readonly Gap[];
  outcome: Pick<DayOutcome, 'runId' | 'waived'>;
  /** When the outcome was decided (the ledger's decidedAt). */
  decidedAt: string;
}

export class RecordingsIndexWriter {
  constructor(private readonly deps: IndexDeps) {}

  /**
   * Replaces the day's recordings index with this outcome's rows (unless it
   * already holds them), streamed from the reports the outcome was decided
   * from, each attempt guarded by the generation just read. Never throws:
   * resolves false, after logging why, when the index could not be written.
   */
  async write(src: IndexInput, fingerprint: string, basis: string): Promise<boolean> {
    const {settings, store, logger} = this.deps;
    const name = indexObjectName(settings.env, src.plan.day);
    const log = {day: src.plan.day, runId: src.plan.runId, object: name};
    try {
      for (let attempt = 0; attempt < MAX_ROUNDS; attempt++) {
        const existing = await store.stat(name);
        // Only the ledger's current outcome writes its index (read after the index, so the
        // generation guard covers a newer decision's write): a stale invocation steps aside.
        const now = await readLedger(store, decisionObjectName(settings.env, src.plan.day));
        if (now?.value.fingerprint !== fingerprint) return true;
        // The ledger names the generation its checker wrote; any other was written by someone else.
        const noted = now.value.index?.generation;
        if (
          existing &&
          indexIsOf(existing, fingerprint, basis) &&
          (noted === undefined || noted === existing.generation)
        ) {
          await this.noteIndex(now, existing);
          return true;
        }
        if (existing && noted !== undefined && noted !== existing.generation)
          logger.warn('the recordings index is not the one the checker wrote; writing it again', {
            ...log,
            written: noted,
            found: existing.generation,
          });
        const stats: IndexStats = {rows: 0, bytes: 0};
        try {
          const stored = await store.write(name, await indexBody(src, stats), {
            contentType: 'application/x-ndjson',
            metadata: {
              [FINGERPRINT_KEY]: fingerprint,
              [INDEX_BASIS_KEY]: basis,
              [RUN_ID_KEY]: src.plan.runId,
            },
            ifGenerationMatch: existing?.generation ?? 0,
          });
          logger.info('recordings index written', {...log, rows: stats.rows, bytes: stats.bytes});
          await this.noteIndex(now, stored);
          return true;
        } catch (err) {
          if (!(err instanceof ObjectExistsError)) throw err;
        }
      }
      throw new RetryableError(`${name} kept changing`);
    } catch (err) {
      logger.error('the recordings index was not written; it is written again on the next try', {
        ...log,
        reason: err instanceof Error ? err.message : String(err),
        error: err,
      });
      return false;
    }
  }

  /**
   * Notes in the ledger which generation of the index its outcome's checker
   * wrote, so an index edited later is told from its own. Only while no
   * email is in flight (its "sent" swap must find the claim's generation);
   * a lost race is harmless: the next invocation notes it.
   */
  private async noteIndex(ledger: StoredLedger, index: StoredObject): Promise<void> {
    const v = ledger.value;
    if (v.index?.generation === index.generation || !emailSettled(v.email)) return;
    const name = decisionObjectName(this.deps.settings.env, v.day);
    await swapLedger(
      this.deps.store,
      name,
      {...v, index: {generation: index.generation, md5Hash: index.md5Hash}},
      ledger.generation,
    );
  }
}

/** Whether a stored index holds the rows of this outcome, computed from these reports. */
export function indexIsOf(
  o: StoredObject | undefined,
  fingerprint: string,
  basis: string | undefined,
) {
  return (
    o !== undefined &&
    o.metadata?.[FINGERPRINT_KEY] === fingerprint &&
    basis !== undefined &&
    o.metadata[INDEX_BASIS_KEY] === basis
  );
}

/** The index's rows as NDJSON chunks, built a report at a time. */
async function* indexChunks(src: IndexInput, stats: IndexStats): AsyncGenerator<Buffer> {
  const ctx = rowContext(src.outcome, src.decidedAt);
  const chunker = new NdjsonChunker(stats);
  for await (const {batch, ref} of src.batches())
    for (const row of batchRows(ctx, batch, ref.report)) {
      const chunk = chunker.push(row);
      if (chunk) yield chunk;
    }
  for (const row of unplannedRows(ctx, src.unplanned)) {
    const chunk = chunker.push(row);
    if (chunk) yield chunk;
  }
  const last = chunker.end();
  if (last) yield last;
}

/**
 * The index's bytes: a Buffer when they fit one chunk (an empty day included),
 * else a stream that builds the rows as the upload takes them.
 */
async function indexBody(src: IndexInput, stats: IndexStats): Promise<Buffer | Readable> {
  const chunks = indexChunks(src, stats);
  const first = await chunks.next();
  if (first.done) return Buffer.alloc(0);
  const second = await chunks.next();
  if (second.done) return first.value;
  return Readable.from(
    (async function* () {
      yield first.value;
      yield second.value;
      yield* chunks;
    })(),
  );
}
