/**
 * Streaming building blocks for uploads: checksums computed on the fly, and a
 * `multipart/related` parser that hands the media part on as a stream, so no
 * upload ever sits in memory whatever its size.
 */
import {Transform, TransformCallback} from 'node:stream';
import {createHash, Hash} from 'node:crypto';

/** Lookup tables of CRC32C (Castagnoli, reflected polynomial 0x82f63b78) for slicing-by-8. */
const CRC32C_TABLES: Int32Array[] = (() => {
  const first = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    first[i] = c;
  }
  const tables = [first];
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]!;
    const next = new Int32Array(256);
    for (let i = 0; i < 256; i++) next[i] = (prev[i]! >>> 8) ^ first[prev[i]! & 0xff]!;
    tables.push(next);
  }
  return tables;
})();

/**
 * CRC32C of a byte sequence fed in pieces, the checksum GCS computes over
 * every object, as GCS reports it (base64 of the big-endian value). Slicing by
 * 8 bytes: the same values as @google-cloud/storage's CRC32C class, which goes
 * a byte at a time (about 85 MiB/s against about 500 here). At its speed the
 * emulator itself was the limit of every upload, hiding what clients spend.
 */
export class Crc32c {
  /** The running register (inverted, as the algorithm keeps it). */
  private reg = ~0;

  update(buf: Uint8Array): void {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
    ];
    let c = this.reg;
    const n = buf.length;
    const whole = n - (n & 7);
    let i = 0;
    for (; i < whole; i += 8) {
      const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
      c =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[buf[i + 4]!]! ^
        t2[buf[i + 5]!]! ^
        t1[buf[i + 6]!]! ^
        t0[buf[i + 7]!]!;
    }
    for (; i < n; i++) c = t0[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
    this.reg = c;
  }

  toString(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(~this.reg >>> 0);
    return out.toString('base64');
  }
}

/** Byte count, MD5 and CRC32C of a byte sequence fed in pieces (base64, as GCS reports them). */
export class Checksums {
  size = 0;
  private readonly md5: Hash = createHash('md5');
  private readonly crc = new Crc32c();

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.md5.update(chunk);
    this.crc.update(chunk);
  }

  digests(): {md5Hash: string; crc32c: string} {
    return {md5Hash: this.md5.copy().digest('base64'), crc32c: this.crc.toString()};
  }
}

/** A pass-through that feeds every chunk to a Checksums. */
export class HashingStream extends Transform {
  constructor(readonly sums: Checksums = new Checksums()) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sums.update(chunk);
    done(null, chunk);
  }
}

/** Drops the first `count` bytes (a resumable chunk that overlaps what is stored). */
export class SkipBytes extends Transform {
  constructor(private remaining: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.remaining >= chunk.length) {
      this.remaining -= chunk.length;
      done();
      return;
    }
    const out = chunk.subarray(this.remaining);
    this.remaining = 0;
    done(null, out);
  }
}

/** Parses an `X-Goog-Hash` header value (`crc32c=…,md5=…`). */
export function parseGoogHash(header: string | string[] | undefined): {
  md5?: string;
  crc32c?: string;
} {
  const out: {md5?: string; crc32c?: string} = {};
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const part of values.flatMap(v => v.split(','))) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === 'md5') out.md5 = value;
    if (key === 'crc32c') out.crc32c = value;
  }
  return out;
}

export class MultipartError extends Error {
  override name = 'MultipartError' as const;
}

/** Largest metadata part accepted, in bytes. */
const MAX_METADATA_PART_BYTES = 1024 * 1024;

type State =
  'preamble' | 'openLine' | 'headers1' | 'body1' | 'between' | 'headers2' | 'body2' | 'epilogue';

/** Longest line the first boundary may stand on (transport padding included). */
const MAX_BOUNDARY_LINE_BYTES = 1024;

/**
 * Reads a two-part `multipart/related` upload body (JSON metadata, then the
 * media). Outputs only the media bytes; `metadata` resolves with the first
 * part's body and the second part's headers as soon as they have been read.
 *
 * Lines end in CRLF, as RFC 2046 writes them (`@google-cloud/storage`), or
 * in a bare LF, as the Google Cloud CLI's HTTP library writes them (Python's
 * email generator): Cloud Storage takes both. The first boundary line says
 * which one the body uses, and every delimiter after it is read with that
 * line end only, so media bytes that happen to end in CR stay intact.
 */
export class MultipartRelatedParser extends Transform {
  readonly metadata: Promise<{json: Buffer; mediaHeaders: Record<string, string>}>;
  private resolveMeta!: (v: {json: Buffer; mediaHeaders: Record<string, string>}) => void;
  private rejectMeta!: (err: Error) => void;
  private state: State = 'preamble';
  private buf: Buffer = Buffer.alloc(0);
  private json: Buffer = Buffer.alloc(0);
  private readonly open: Buffer;
  /** The body's line end, known once the first boundary line has been read. */
  private eol: Buffer = Buffer.from('\r\n');
  private delimiter: Buffer;

  constructor(boundary: string) {
    super();
    this.open = Buffer.from(`--${boundary}`);
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
    this.metadata = new Promise((resolve, reject) => {
      this.resolveMeta = resolve;
      this.rejectMeta = reject;
    });
    // Nobody may be awaiting metadata when the body is malformed early.
    this.metadata.catch(() => {});
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.advance();
      done();
    } catch (err) {
      this.rejectMeta(err as Error);
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state !== 'epilogue') {
      const err = new MultipartError('multipart body ended before its closing boundary');
      this.rejectMeta(err);
      done(err);
      return;
    }
    done();
  }

  private advance(): void {
    for (;;) {
      switch (this.state) {
        case 'preamble': {
          const at = this.buf.indexOf(this.open);
          if (at < 0) return this.guard(this.open.length);
          this.buf = this.buf.subarray(at + this.open.length);
          this.state = 'openLine';
          break;
        }
        case 'openLine': {
          // The rest of the first boundary line: transport padding, then CRLF or LF.
          const lf = this.buf.indexOf('\n');
          if (lf < 0) return this.guard(MAX_BOUNDARY_LINE_BYTES);
          const rest = this.buf.subarray(0, lf).toString('latin1');
          if (!/^[ \t]*\r?$/.test(rest))
            throw new MultipartError('malformed multipart body (text after the first boundary)');
          this.eol = Buffer.from(rest.endsWith('\r') ? '\r\n' : '\n');
          this.delimiter = Buffer.concat([this.eol, this.open]);
          this.buf = this.buf.subarray(lf + 1);
          this.state = 'headers1';
          break;
        }
        case 'headers1':
        case 'headers2': {
          let headers: Record<string, string>;
          if (this.buf.length < this.eol.length) return;
          if (this.buf.subarray(0, this.eol.length).equals(this.eol)) {
            headers = {}; // a part without headers
            this.buf = this.buf.subarray(this.eol.length);
          } else {
            const blank = Buffer.concat([this.eol, this.eol]);
            const end = this.buf.indexOf(blank);
            if (end < 0) return this.guard(16 * 1024);
            headers = parseHeaders(this.buf.subarray(0, end).toString('utf8'));
            this.buf = this.buf.subarray(end + blank.length);
          }
          if (this.state === 'headers2') {
            this.resolveMeta({json: this.json, mediaHeaders: headers});
            this.state = 'body2';
          } else {
            this.state = 'body1';
          }
          break;
        }
        case 'body1': {
          const at = this.buf.indexOf(this.delimiter);
          if (at < 0) return this.guard(MAX_METADATA_PART_BYTES);
          this.json = Buffer.from(this.buf.subarray(0, at));
          this.buf = this.buf.subarray(at + this.delimiter.length);
          this.state = 'between';
          break;
        }
        case 'between': {
          if (this.buf.length < 2) return;
          if (this.buf.subarray(0, 2).toString() === '--') {
            throw new MultipartError(
              'multipart body has only one part; expected metadata and media',
            );
          }
          // The rest of the delimiter line (transport padding, then the line end).
          const lf = this.buf.indexOf('\n');
          if (lf < 0) return this.guard(MAX_BOUNDARY_LINE_BYTES);
          this.buf = this.buf.subarray(lf + 1);
          this.state = 'headers2';
          break;
        }
        case 'body2': {
          const at = this.buf.indexOf(this.delimiter);
          if (at >= 0) {
            this.push(this.buf.subarray(0, at));
            this.buf = Buffer.alloc(0);
            this.state = 'epilogue';
            return;
          }
          // Hold back what could be the start of the delimiter.
          const keep = this.delimiter.length - 1;
          if (this.buf.length > keep) {
            this.push(this.buf.subarray(0, this.buf.length - keep));
            this.buf = Buffer.from(this.buf.subarray(this.buf.length - keep));
          }
          return;
        }
        case 'epilogue':
          this.buf = Buffer.alloc(0);
          return;
      }
    }
  }

  private guard(limit: number): void {
    if (this.buf.length > limit) {
      throw new MultipartError(
        `malformed multipart body (no boundary or header end within ${limit} bytes)`,
      );
    }
  }
}

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

/**
 * The boundary parameter of a multipart content type, if any. Quoted as RFC
 * 2045 quotes it (`"…"`), bare, or in single quotes: the Google Cloud CLI
 * writes Python's repr of the boundary (`boundary='===…=='`), and Cloud
 * Storage reads the boundary inside them.
 */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/related/i.test(contentType)) return undefined;
  const m = /boundary=(?:"([^"]+)"|'([^']+)'(?=\s*(?:;|$))|([^;]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? m[3])!.trim() : undefined;
}
