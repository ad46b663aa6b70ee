/**
 * One benchmark figure next to its target and a baseline from the same run,
 * and how a list of them is shown (a table) and kept (a JSON file with the
 * machine's facts and the run's parameters).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface BenchRow {
  /** Which part of the bench measured it. */
  section: string;
  name: string;
  value: number;
  unit: string;
  /** How the value is shown, when `value unit` would not do (e.g. `12 MiB/s`). */
  display?: string;
  /** What it should be, in words (`≤ 1.04`); absent: reported for information. */
  target?: string;
  /** What it is compared with, measured in the same run. */
  baseline?: string;
  /** value ÷ baseline (or the figure the target is about). */
  ratio?: number;
  /** Whether the target is met; absent when there is none. */
  pass?: boolean;
  /** Raw figures behind it (kept in the JSON file only). */
  detail?: unknown;
}

/** A figure kept as text, as bench/copy.ts and bench/scale.ts report theirs. */
export interface TextRow {
  name: string;
  value: string;
  target: string;
  baseline: string;
  ratio: string;
  pass: boolean;
}

function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** The rows as a plain-text table. */
export function renderRows(rows: readonly BenchRow[]): string {
  const table = [
    ['', 'figure', 'value', 'target', 'baseline (same run)', 'ratio'],
    ...rows.map(r => [
      r.pass === undefined ? ' ' : r.pass ? 'ok' : 'MISS',
      r.name,
      r.display ?? `${fmt(r.value)} ${r.unit}`.trim(),
      r.target ?? '',
      r.baseline ?? '',
      fmt(r.ratio),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map(row => row[i]!.length)));
  return table
    .map(row =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function printRows(rows: readonly BenchRow[]): void {
  console.log(renderRows(rows));
}

/** Writes the rows with the machine's facts and the run's parameters; returns the path. */
export function writeRows(
  file: string,
  rows: readonly BenchRow[],
  parameters: Record<string, unknown>,
): string {
  fs.mkdirSync(path.dirname(file), {recursive: true});
  const cpus = os.cpus();
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: {
          node: process.version,
          platform: `${os.platform()} ${os.release()}`,
          cpus: cpus.length,
          cpuModel: cpus[0]?.model,
          memoryBytes: os.totalmem(),
          loadAverage: os.loadavg(),
        },
        parameters,
        missed: rows.filter(r => r.pass === false).map(r => r.name),
        rows,
      },
      null,
      2,
    ) + '\n',
  );
  return file;
}
