/**
 * Progress of a running export for the demo: batches reported of the plan's
 * total, recordings exported so far (from the batch reports), and the
 * retries and waits the functions have logged so far.
 *
 * On a terminal one line is rewritten in place; anywhere else (CI, a pipe, a
 * file) a plain line is printed only when a figure changed and at most every
 * few seconds, so logs stay readable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {plural} from '../../functions/core/human-format';

export interface ProgressFigures {
  batchesReported: number;
  batchesTotal: number;
  /** Recordings the reports so far say were exported. */
  exported: number;
  /** Retries the functions logged (Genesys requests, recording downloads, batches, SendGrid). */
  retries: number;
  /** Of those, the ones after an HTTP 429 (a rate-limit wait). */
  rateLimited: number;
  /** When the latest retry's wait ends (epoch ms), if the functions logged one. */
  waitUntilMs?: number;
}

/** Where progress goes: process.stdout, or a capturing writer in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  /** A terminal's width: an in-place line longer than it would wrap and stay behind. */
  columns?: number;
}

/**
 * The figures in one line; `nowMs` turns a pending retry wait into "waiting
 * up to N s". `short` is the terse form for a narrow terminal.
 */
export function formatProgress(
  f: ProgressFigures,
  elapsedMs: number,
  nowMs: number,
  short = false,
): string {
  const waitS = f.waitUntilMs === undefined ? 0 : Math.ceil((f.waitUntilMs - nowMs) / 1000);
  const seconds = Math.floor(elapsedMs / 1000);
  if (short) {
    return (
      `  ${seconds} s  batches ${f.batchesReported}/${f.batchesTotal}  exported ${f.exported}` +
      `  retries ${f.retries}${f.rateLimited > 0 ? ` (${f.rateLimited} × 429)` : ''}` +
      (f.retries > 0 && waitS > 0 ? `  wait ${waitS} s` : '')
    );
  }
  const parts = [
    `${f.batchesReported} of ${plural(f.batchesTotal, 'batch')} reported`,
    `${plural(f.exported, 'recording')} exported`,
  ];
  if (f.retries === 0) {
    parts.push('no retries');
  } else {
    const notes: string[] = [];
    if (f.rateLimited > 0) notes.push(`${f.rateLimited} after HTTP 429`);
    if (waitS > 0) notes.push(`waiting up to ${waitS} s`);
    parts.push(`${plural(f.retries, 'retry')}${notes.length ? ` (${notes.join(', ')})` : ''}`);
  }
  return `  ${seconds} s: ${parts.join(' · ')}`;
}

/** What "something changed" means for plain output (not the clock, not a countdown). */
function key(f: ProgressFigures): string {
  return [f.batchesReported, f.batchesTotal, f.exported, f.retries, f.rateLimited].join('/');
}

/** `text` cut to fit a terminal line of `columns` (with room for the cursor). */
export function fit(text: string, columns?: number): string {
  if (!columns || columns < 2 || text.length < columns) return text;
  return text.slice(0, columns - 2) + '…';
}

/** The line for a terminal `columns` wide: the full form, else the terse one, cut if need be. */
export function terminalLine(
  f: ProgressFigures,
  elapsedMs: number,
  nowMs: number,
  columns?: number,
): string {
  const full = formatProgress(f, elapsedMs, nowMs);
  if (!columns || full.length < columns) return full;
  return fit(formatProgress(f, elapsedMs, nowMs, true), columns);
}

/** Clears the terminal line the cursor is on and returns to its start. */
const CLEAR_LINE = '\r\x1b[2K';

export class ProgressLine {
  private readonly started: number;
  private readonly now: () => number;
  private readonly plainIntervalMs: number;
  private lastText?: string;
  private lastKey?: string;
  private lastPlainAt = -Infinity;
  private open = false;

  constructor(
    private readonly out: ProgressOutput,
    opts: {plainIntervalMs?: number; now?: () => number} = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.plainIntervalMs = opts.plainIntervalMs ?? 5000;
  }

  /** Shows the figures: in place on a TTY; otherwise a line if they changed and the interval passed. */
  update(f: ProgressFigures): void {
    const now = this.now();
    if (this.out.isTTY) {
      const text = terminalLine(f, now - this.started, now, this.out.columns);
      if (text === this.lastText) return;
      this.out.write(CLEAR_LINE + text);
      this.lastText = text;
      this.open = true;
      return;
    }
    if (key(f) === this.lastKey || now - this.lastPlainAt < this.plainIntervalMs) return;
    this.plain(formatProgress(f, now - this.started, now), f, now);
  }

  /** The last figures, whatever the interval (plain: only if they changed), and ends the line. */
  done(f: ProgressFigures): void {
    const now = this.now();
    const last = {...f, waitUntilMs: undefined};
    if (this.out.isTTY) {
      this.out.write(
        CLEAR_LINE + terminalLine(last, now - this.started, now, this.out.columns) + '\n',
      );
      this.open = false;
      this.lastText = undefined;
      return;
    }
    if (key(f) !== this.lastKey) this.plain(formatProgress(last, now - this.started, now), f, now);
  }

  /** Ends an in-place line without new figures (before other output, e.g. on an error). */
  close(): void {
    if (this.out.isTTY && this.open) this.out.write('\n');
    this.open = false;
  }

  private plain(text: string, f: ProgressFigures, now: number): void {
    this.out.write(text + '\n');
    this.lastKey = key(f);
    this.lastPlainAt = now;
  }
}

/** A retry (or a wait before one) as the product logs it: one JSON line. */
const RETRY_MESSAGE = /will be retried|; retrying/;

/** Counts the retry lines of the functions' structured logs. */
export class RetryTally {
  retries = 0;
  rateLimited = 0;
  waitUntilMs?: number;

  /** `lines` were read at `readAtMs`; lines that are not a product's retry line are ignored. */
  add(lines: readonly string[], readAtMs: number): void {
    for (const line of lines) {
      if (!line.startsWith('{') || !RETRY_MESSAGE.test(line)) continue;
      let entry: {message?: unknown; delayMs?: unknown; failure?: {status?: unknown}};
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (typeof entry.message !== 'string' || !RETRY_MESSAGE.test(entry.message)) continue;
      this.retries++;
      if (entry.failure?.status === 429) this.rateLimited++;
      if (typeof entry.delayMs === 'number' && entry.delayMs > 0) {
        this.waitUntilMs = Math.max(this.waitUntilMs ?? 0, readAtMs + entry.delayMs);
      }
    }
  }
}

/**
 * The lines appended to a directory's log files since it was created:
 * whatever the files held before (an earlier run on the same stack) is
 * skipped, and a line still being written waits for its end.
 */
export class LogTail {
  private readonly offsets = new Map<string, number>();
  /** The bytes after a file's last newline (a line still being written). */
  private readonly partial = new Map<string, Buffer>();

  constructor(
    private readonly dir: string,
    private readonly include: (file: string) => boolean = f => f.endsWith('.log'),
  ) {
    for (const file of this.files()) this.offsets.set(file, sizeOf(path.join(dir, file)));
  }

  read(): string[] {
    const lines: string[] = [];
    for (const file of this.files()) {
      const full = path.join(this.dir, file);
      const from = this.offsets.get(file) ?? 0;
      const size = sizeOf(full);
      if (size < from) {
        // Truncated (a new stack in the same directory): start over.
        this.offsets.set(file, 0);
        this.partial.delete(file);
        continue;
      }
      if (size === from) continue;
      const buf = Buffer.alloc(size - from);
      const fd = fs.openSync(full, 'r');
      try {
        fs.readSync(fd, buf, 0, buf.length, from);
      } finally {
        fs.closeSync(fd);
      }
      this.offsets.set(file, size);
      // Split on bytes, so a character cut between two reads is whole again.
      const pending = Buffer.concat([this.partial.get(file) ?? Buffer.alloc(0), buf]);
      const end = pending.lastIndexOf(0x0a);
      this.partial.set(file, pending.subarray(end + 1));
      if (end >= 0) lines.push(...pending.subarray(0, end).toString('utf8').split('\n'));
    }
    return lines;
  }

  private files(): string[] {
    try {
      return fs.readdirSync(this.dir).filter(this.include).sort();
    } catch {
      return [];
    }
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * A run's progress: the caller passes what the batch reports say, the retry
 * figures come from the functions' logs in `logsDir` (function-*.log) from
 * the moment this is created.
 */
export class DayProgress {
  private readonly line: ProgressLine;
  private readonly logs: LogTail;
  private readonly tally = new RetryTally();
  private readonly now: () => number;

  constructor(
    out: ProgressOutput,
    logsDir: string,
    opts: {plainIntervalMs?: number; now?: () => number} = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.line = new ProgressLine(out, opts);
    this.logs = new LogTail(logsDir, f => f.startsWith('function-') && f.endsWith('.log'));
  }

  update(batchesReported: number, batchesTotal: number, exported: number): void {
    this.line.update(this.figures(batchesReported, batchesTotal, exported));
  }

  done(batchesReported: number, batchesTotal: number, exported: number): void {
    this.line.done(this.figures(batchesReported, batchesTotal, exported));
  }

  close(): void {
    this.line.close();
  }

  private figures(batchesReported: number, batchesTotal: number, exported: number) {
    this.tally.add(this.logs.read(), this.now());
    const {retries, rateLimited, waitUntilMs} = this.tally;
    return {batchesReported, batchesTotal, exported, retries, rateLimited, waitUntilMs};
  }
}
