/**
 * `grm report [FROM..TO] --out FILE.html`: the days of a range as one
 * self-contained HTML page (core/report-page.ts), from what `grm status`
 * reads (markers, plans and ledgers: day-states.ts). `--json` prints the
 * data behind it. `writeReport` is the same for other tools (the demo).
 */
import {GcsStore} from '../adapters/gcs';
import {whyNotWritable, writeFileAtomically} from '../adapters/local-file';
import {storageClient} from '../adapters/operator-clients';
import {plural} from '../core/human-format';
import {LOOKS, ReportModel, reportModel} from '../core/report-model';
import {reportPage} from '../core/report-page';
import type {ObjectStore} from '../ports';
import {readDayStates} from './day-states';
import {UsageError, dayRange, daysBetween, newestDay} from './grm-cli';
import type {Target} from './grm-target';
import {addDays} from '../core/time-window';

/** Days in the default range, ending with the newest nightly window. */
export const DEFAULT_REPORT_DAYS = 30;

export interface ReportOptions {
  store: ObjectStore;
  bucket: string;
  env: string;
  project?: string;
  from: string;
  to: string;
  /** Where the page goes (written atomically); without it only the model is built. */
  out?: string;
  now: () => number;
}

/** Reads the range's days and writes the page to `out`; resolves the model. */
export async function writeReport(o: ReportOptions): Promise<ReportModel> {
  const states = await readDayStates(o.store, o.env, daysBetween(o.from, o.to));
  const model = reportModel({
    ...(o.project ? {project: o.project} : {}),
    bucket: o.bucket,
    env: o.env,
    from: o.from,
    to: o.to,
    generatedAt: new Date(o.now()).toISOString(),
    states,
  });
  if (o.out) await writeFileAtomically(o.out, reportPage(model));
  return model;
}

/** The days of each look, for people: "28 _SUCCESS, 1 _FAILURE, 1 never planned". */
export function looksText(model: ReportModel): string {
  return LOOKS.filter(l => model.looks[l.look] > 0)
    .map(l => `${model.looks[l.look]} ${l.label}`)
    .join(', ');
}

export async function reportCommand(
  t: Target,
  flags: Map<string, string>,
  positional: string[],
  io: {out(line: string): void; now(): number},
): Promise<number> {
  const json = flags.has('json');
  const out = flags.get('out');
  if (!out && !json) throw new UsageError('--out FILE.html is missing (or --json for the data)');
  let from: string;
  let to: string;
  if (positional[0]) {
    [from, to] = dayRange(positional[0]);
  } else {
    to = newestDay(io.now());
    from = addDays(to, -(DEFAULT_REPORT_DAYS - 1));
  }
  if (from > to) throw new UsageError(`FROM ${from} is after TO ${to}`);
  daysBetween(from, to);
  if (out) {
    const why = await whyNotWritable(out);
    if (why) throw new UsageError(`cannot write --out ${out}: ${why}`);
  }
  const store = new GcsStore(
    t.bucket,
    storageClient({project: t.project, endpoint: t.gcsEndpoint}),
  );
  const model = await writeReport({
    store,
    bucket: t.bucket,
    env: t.env,
    project: t.project,
    from,
    to,
    ...(out ? {out} : {}),
    now: io.now,
  });
  io.out(
    json
      ? JSON.stringify(model, null, 2)
      : `wrote ${out}: ${from} to ${to}, ${plural(model.days.length, 'day')} (${looksText(model)})`,
  );
  return 0;
}
