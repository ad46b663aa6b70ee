/**
 * The part of a decided record every compact one holds (core/compact-records.ts),
 * in typed arrays, a row a record: its generation, size, MD5 and CRC32C as
 * bytes, flags, and the number of its (run, time, seal). About 41 bytes a row.
 *
 * Pure.
 */
import {resized} from './compact-ids';

/** What every compact record holds, a row each: its copy and its stamp. */
export class RecordCopies {
  gen: Float64Array;
  size: Float64Array;
  md5: Uint8Array;
  crc: Uint8Array;
  flags: Uint8Array;
  stamp: Int32Array;

  constructor(n: number) {
    this.gen = new Float64Array(n);
    this.size = new Float64Array(n);
    this.md5 = new Uint8Array(16 * n);
    this.crc = new Uint8Array(4 * n);
    this.flags = new Uint8Array(n);
    this.stamp = new Int32Array(n);
  }

  get rows(): number {
    return this.flags.length;
  }

  resize(m: number): void {
    this.gen = resized(this.gen, m);
    this.size = resized(this.size, m);
    this.md5 = resized(this.md5, 16 * m);
    this.crc = resized(this.crc, 4 * m);
    this.flags = resized(this.flags, m);
    this.stamp = resized(this.stamp, m);
  }
}
