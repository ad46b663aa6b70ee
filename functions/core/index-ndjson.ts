/**
 * The recordings index's rows as newline-delimited JSON, in chunks of about
 * 256 KiB, each row checked against recordings-schema.json first: what the
 * checker streams to `_index/day=…/recordings.ndjson`.
 *
 * Pure.
 */
import {IndexRow, rowProblems} from './recordings-index';

export class IndexRowError extends Error {
  override name = 'IndexRowError' as const;
}

/** How much was written, filled in as the chunks are taken. */
export interface IndexStats {
  rows: number;
  bytes: number;
}

/**
 * The rows as newline-delimited JSON in chunks of about `chunkBytes`, each row
 * checked against the schema first (a row BigQuery would refuse fails every
 * query of the day: it is never written).
 * @throws IndexRowError for a row that does not fit the schema
 */
export function* ndjsonChunks(
  rows: Iterable<IndexRow>,
  stats: IndexStats = {rows: 0, bytes: 0},
  chunkBytes = 256 * 1024,
): Generator<Buffer> {
  const chunker = new NdjsonChunker(stats, chunkBytes);
  for (const row of rows) {
    const chunk = chunker.push(row);
    if (chunk) yield chunk;
  }
  const last = chunker.end();
  if (last) yield last;
}

/** {@link ndjsonChunks} a row at a time: `push` each row, then `end`; each gives a full chunk, if any. */
export class NdjsonChunker {
  private lines: string[] = [];
  private size = 0;

  constructor(
    private readonly stats: IndexStats = {rows: 0, bytes: 0},
    private readonly chunkBytes = 256 * 1024,
  ) {}

  /** @throws IndexRowError for a row that does not fit the schema */
  push(row: IndexRow): Buffer | undefined {
    const problems = rowProblems(row);
    if (problems.length > 0)
      throw new IndexRowError(
        `index row of conversation ${String(row.conversation_id).slice(0, 64)} does not fit recordings-schema.json: ${problems.slice(0, 5).join('; ')}`,
      );
    const line = `${JSON.stringify(row)}\n`;
    this.lines.push(line);
    this.size += line.length;
    this.stats.rows++;
    return this.size >= this.chunkBytes ? this.take() : undefined;
  }

  end(): Buffer | undefined {
    return this.lines.length > 0 ? this.take() : undefined;
  }

  private take(): Buffer {
    const out = Buffer.from(this.lines.join(''), 'utf8');
    this.lines = [];
    this.size = 0;
    this.stats.bytes += out.length;
    return out;
  }
}
