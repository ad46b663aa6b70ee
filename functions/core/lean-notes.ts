/**
 * Which metadata mode each batch actually ran in, as its report records it,
 * and the lines a day's marker says about it. With METADATA=lean a batch
 * runs in full mode when its OAuth client is not proven to hold
 * `recording:recording:viewSensitiveData` (services/lean-gate.ts): nothing
 * is lost (full mode lists every recording), but the day must say so, since
 * the deployment asked for something else and its client needs a fix.
 */
import type {BatchReport} from './report';

/** What a batch report records of its metadata mode (absent from failed batches and older reports). */
export interface BatchMetadataMode {
  /** The mode the batch ran in: `full` (recording metadata per conversation) or `lean`. */
  metadataMode?: 'full' | 'lean';
  /** METADATA=lean was configured, and the batch ran in full mode: why. */
  leanRefused?: string;
}

/** A batch report with what it records of its metadata mode. */
export type ModeReport = BatchReport & BatchMetadataMode;

/**
 * The day's lines about lean mode refused, one per distinct reason, in a
 * stable order: `reports` are the batch reports the day is decided on (the
 * current run's). None when every batch ran in the mode configured.
 */
export function leanNotes(reports: ReadonlyArray<Pick<ModeReport, 'leanRefused'>>): string[] {
  const byReason = new Map<string, number>();
  for (const r of reports)
    if (typeof r.leanRefused === 'string' && r.leanRefused !== '')
      byReason.set(r.leanRefused, (byReason.get(r.leanRefused) ?? 0) + 1);
  return [...byReason]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([reason, n]) =>
        `METADATA=lean refused for ${n} of ${reports.length} batch${reports.length === 1 ? '' : 'es'}, ` +
        `which ran in full mode (recording metadata per conversation): ${reason}`,
    );
}
