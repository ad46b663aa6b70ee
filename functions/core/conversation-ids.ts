/**
 * A day's conversation ids in compact form: each id (a lower-case UUID) as
 * its 16 bytes, packed into one Buffer. A million ids take 16 MB here, where a
 * Set of strings and the sorted array cut from it took well over 100 MB.
 *
 * Sorting the bytes orders the ids exactly as sorting the strings does (the
 * dashes sit at the same places in every id, and hex digits are in ASCII
 * order), so the batches cut from this list are the ones `planBatches`
 * always cut, with the same batch ids.
 */
import {PermanentError} from './errors';
import {isGenesysId} from './ids';

const ID_BYTES = 16;

export class ConversationIdList {
  private bytes: Buffer;
  private count = 0;
  private sealed = false;

  constructor(capacity = 1024) {
    this.bytes = Buffer.allocUnsafe(Math.max(1, capacity) * ID_BYTES);
  }

  static from(ids: Iterable<string>): ConversationIdList {
    const list = new ConversationIdList();
    for (const id of ids) list.add(id);
    return list.seal();
  }

  /** Ids added so far; after `seal()`, the distinct ids. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds an id (duplicates are removed by `seal()`). An id that is not a
   * lower-case UUID is refused: no batch message could carry it.
   */
  add(id: string): void {
    if (this.sealed) throw new Error('the id list is sealed');
    if (!isGenesysId(id))
      throw new PermanentError(
        `Genesys returned a conversation id that is not a lower-case UUID: ${JSON.stringify(String(id).slice(0, 60))}`,
      );
    if ((this.count + 1) * ID_BYTES > this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, this.count * ID_BYTES);
      this.bytes = grown;
    }
    const at = this.count * ID_BYTES;
    this.bytes.write(id.slice(0, 8), at, 'hex');
    this.bytes.write(id.slice(9, 13), at + 4, 'hex');
    this.bytes.write(id.slice(14, 18), at + 6, 'hex');
    this.bytes.write(id.slice(19, 23), at + 8, 'hex');
    this.bytes.write(id.slice(24), at + 10, 'hex');
    this.count++;
  }

  /** Sorts the ids and removes duplicates; nothing can be added after. */
  seal(): this {
    if (this.sealed) return this;
    this.sealed = true;
    const n = this.count;
    const order = radixOrder(this.bytes, n);
    const out = Buffer.allocUnsafe(Math.max(1, n) * ID_BYTES);
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const from = order[k]! * ID_BYTES;
      if (
        kept > 0 &&
        this.bytes.compare(out, (kept - 1) * ID_BYTES, kept * ID_BYTES, from, from + ID_BYTES) === 0
      )
        continue;
      this.bytes.copy(out, kept * ID_BYTES, from, from + ID_BYTES);
      kept++;
    }
    this.bytes = out;
    this.count = kept;
    return this;
  }

  /** The `i`-th id (in sorted order once sealed). */
  at(i: number): string {
    if (i < 0 || i >= this.count) throw new RangeError(`no id ${i} of ${this.count}`);
    const h = this.bytes.toString('hex', i * ID_BYTES, (i + 1) * ID_BYTES);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Ids `start` (inclusive) to `end` (exclusive) as strings. */
  slice(start: number, end: number): string[] {
    const out: string[] = [];
    for (let i = start; i < Math.min(end, this.count); i++) out.push(this.at(i));
    return out;
  }
}

/**
 * The order that sorts `n` 16-byte records of `bytes`: a stable LSD radix
 * sort on 16-bit digits, last digit first (8 passes over an index array; a
 * pass whose digit is the same for every record is skipped).
 */
function radixOrder(bytes: Buffer, n: number): Uint32Array {
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const counts = new Uint32Array(65537);
  for (let digit = ID_BYTES - 2; digit >= 0; digit -= 2) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[bytes.readUInt16BE(i * ID_BYTES + digit) + 1]!++;
    if (n === 0 || counts.some(c => c === n)) continue;
    for (let d = 1; d <= 65536; d++) counts[d]! += counts[d - 1]!;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      next[counts[bytes.readUInt16BE(i * ID_BYTES + digit)]!++] = i;
    }
    [order, next] = [next, order];
  }
  return order;
}
