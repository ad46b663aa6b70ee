/**
 * The day's decided records (core/decided-records.ts) held compactly, for
 * days of a million conversations: a record in the form the checker writes
 * for the day's own objects (a recording `ENV/DAY/TYPE/CONV_REC.EXT` or a
 * metadata document `ENV/DAY/metadata/CONV.json`, canonical ids, a numeric
 * generation, base64 MD5 and CRC32C, no retention, no earlier copies) is
 * held in typed arrays: a recording's in about 70 bytes, chained to its
 * conversation's number in an {@link IdTable}, a metadata document's (one a
 * conversation) in about 40 at that number, with no recording's fields. Any
 * other record is kept as it is, in a Map. Records come back as the same
 * objects, in the same name order, as a Map would give.
 *
 * Pure.
 */
import {RECORDING_TYPES, RecordingType} from './content-types';
import {
  IdTable,
  compareUuid,
  resized,
  packBase64,
  packUuid,
  unpackBase64,
  unpackUuid,
} from './compact-ids';
import type {DecidedRecord, RecordTable} from './decided-records';
import {RecordCopies} from './record-copies';
import {parseRecordingName} from './reports-vs-bucket';

/** The kind of a compact record: a recording type's index, or this for a metadata document. */
const METADATA = RECORDING_TYPES.length;
const FOLDERS = [...RECORDING_TYPES, 'metadata'];
/** Each kind's rank in name order (its folder's, `folder/` compared as the names do). */
const RANK = FOLDERS.map(f => [...FOLDERS].sort((a, b) => cmp(`${a}/`, `${b}/`)).indexOf(f));
const GENERATION = /^(0|[1-9]\d{0,15})$/;
const KEYS = new Set([
  'object',
  'what',
  'conversationId',
  'recordingId',
  'type',
  'generation',
  'size',
  'md5Hash',
  'crc32c',
  'runId',
  'decidedAt',
  'sealedBy',
]);
const HAS_CRC = 1;
const SEEN = 2;
const GONE = 4;
/** A metadata document's row holds its record (rows of conversations without one are empty). */
const HELD = 8;

/** Where a compact record is: a recording's row is its number, a metadata document's -2 - c. */
const metadataAt = (c: number) => -2 - c;

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class CompactRecords implements RecordTable {
  private readonly odd = new Map<string, DecidedRecord>();
  private readonly oddSeen = new Set<string>();
  /** Recordings: chained from their conversation's `head`, newest first. */
  private head = new Int32Array(0);
  private next: Int32Array;
  private conv: Int32Array;
  private kind: Uint8Array;
  private ext: Uint16Array;
  private rec: Uint8Array;
  private readonly recordings: RecordCopies;
  /** Metadata documents: row c is conversation c's. */
  private readonly metadata: RecordCopies;
  private readonly stamps: Array<[string, string, string | undefined]> = [];
  private readonly stampIndex = new Map<string, number>();
  private readonly exts: string[] = [];
  private readonly extIndex = new Map<string, number>();
  private readonly probe = new Uint8Array(16);
  private readonly scratch = new Uint8Array(52);
  private lastName: string | undefined;
  private lastIndex = -1;
  private lastStamp = 0;
  private count = 0;
  private readonly metadataFolder: string;

  /**
   * @param capacity - recordings expected (room is made for more as they
   * come; metadata documents have a row for each of the table's ids)
   */
  constructor(
    private readonly env: string,
    private readonly day: string,
    private readonly ids: IdTable,
    capacity = 1024,
  ) {
    this.metadataFolder = `${env}/${day}/metadata/`;
    const n = Math.max(16, capacity);
    this.next = new Int32Array(n);
    this.conv = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.ext = new Uint16Array(n);
    this.rec = new Uint8Array(16 * n);
    this.recordings = new RecordCopies(n);
    this.metadata = new RecordCopies(Math.max(16, ids.size));
  }

  /** Records held in the compact form. */
  get compacted(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (!(this.recordings.flags[i]! & GONE)) n++;
    const flags = this.metadata.flags;
    for (let c = 0; c < flags.length; c++) if ((flags[c]! & (HELD | GONE)) === HELD) n++;
    return n;
  }

  get(object: string): DecidedRecord | undefined {
    const odd = this.odd.get(object);
    if (odd) return odd;
    const i = this.find(object);
    return i === -1 ? undefined : this.record(i);
  }

  set(record: DecidedRecord): void {
    const {object} = record;
    if (this.odd.has(object)) {
      this.odd.set(object, record);
      return;
    }
    const i = this.find(object);
    if (i !== -1 && this.encode(record, i)) return;
    if (i !== -1) {
      // No longer in the compact form (an earlier copy, say): kept as it is from now on.
      this.lastName = undefined;
      const [copies, row] = this.copiesOf(i);
      copies.flags[row]! |= GONE;
      if (copies.flags[row]! & SEEN) this.oddSeen.add(object);
      this.odd.set(object, record);
      return;
    }
    if (record.what === 'metadata') {
      if (!this.encode(record, undefined)) this.odd.set(object, record);
      this.lastName = undefined;
      return;
    }
    const n = this.count;
    this.reserve(n + 1);
    if (this.encode(record, n)) {
      this.count++;
      this.lastName = object;
      this.lastIndex = n;
      const c = this.conv[n]!;
      this.next[n] = this.head[c]!;
      this.head[c] = n;
    } else {
      this.lastName = undefined;
      this.odd.set(object, record);
    }
  }

  seen(object: string): boolean {
    if (this.odd.has(object)) return this.oddSeen.has(object);
    const i = this.find(object);
    if (i === -1) return false;
    const [copies, row] = this.copiesOf(i);
    return (copies.flags[row]! & SEEN) !== 0;
  }

  see(object: string): void {
    if (this.odd.has(object)) {
      this.oddSeen.add(object);
      return;
    }
    const i = this.find(object);
    if (i === -1) return;
    const [copies, row] = this.copiesOf(i);
    copies.flags[row]! |= SEEN;
  }

  *inOrder(): Generator<DecidedRecord> {
    const order = this.nameOrder();
    const odd = [...this.odd.keys()].sort();
    let k = 0;
    for (const i of order) {
      const name = this.nameOf(i);
      while (k < odd.length && odd[k]! < name) yield this.odd.get(odd[k++]!)!;
      yield this.record(i, name);
    }
    while (k < odd.length) yield this.odd.get(odd[k++]!)!;
  }

  /** The copies of a compact record, and its row in them. */
  private copiesOf(i: number): [RecordCopies, number] {
    return i >= 0 ? [this.recordings, i] : [this.metadata, -2 - i];
  }

  /**
   * The compact records (those not gone) in name order: put in their kind's
   * place in one pass, then each kind sorted on its own (a sort takes a
   * working copy of what it sorts: one kind's, never the day's).
   */
  private nameOrder(): Int32Array {
    const kinds = FOLDERS.length;
    const starts = new Int32Array(kinds + 1);
    const flags = this.recordings.flags;
    const held = this.metadata.flags;
    for (let i = 0; i < this.count; i++)
      if (!(flags[i]! & GONE)) starts[RANK[this.kind[i]!]! + 1]!++;
    for (let c = 0; c < held.length; c++)
      if ((held[c]! & (HELD | GONE)) === HELD) starts[RANK[METADATA]! + 1]!++;
    for (let r = 0; r < kinds; r++) starts[r + 1]! += starts[r]!;
    const order = new Int32Array(starts[kinds]!);
    const at = starts.slice(0, kinds);
    for (let i = 0; i < this.count; i++)
      if (!(flags[i]! & GONE)) order[at[RANK[this.kind[i]!]!]!++] = i;
    for (let c = 0; c < held.length; c++)
      if ((held[c]! & (HELD | GONE)) === HELD) order[at[RANK[METADATA]!]!++] = metadataAt(c);
    for (let r = 0; r < kinds; r++)
      order.subarray(starts[r]!, starts[r + 1]!).sort((a, b) => this.compare(a, b));
    return order;
  }

  /** The compact record of `object`, or -1 (the last answer is kept: a merge asks thrice). */
  private find(object: string): number {
    if (object === this.lastName) return this.lastIndex;
    const i = this.lookup(object);
    this.lastName = object;
    this.lastIndex = i;
    return i;
  }

  private lookup(object: string): number {
    if (object.startsWith(this.metadataFolder) && object.endsWith('.json')) {
      const c = this.ids.find(object.slice(this.metadataFolder.length, -'.json'.length));
      if (c < 0 || c >= this.metadata.rows || !this.ids.isCanonical(c)) return -1;
      return (this.metadata.flags[c]! & (HELD | GONE)) === HELD ? metadataAt(c) : -1;
    }
    const p = parseRecordingName(this.env, this.day, object);
    if (!p) return -1;
    const kind = RECORDING_TYPES.indexOf(p.type);
    const extension = object.slice(object.lastIndexOf('.') + 1);
    const c = this.ids.find(p.conversationId);
    if (c < 0 || c >= this.head.length || !this.ids.isCanonical(c)) return -1;
    if (!packUuid(p.recordingId, this.probe, 0)) return -1;
    const e = this.extIndex.get(extension);
    for (let i = this.head[c]!; i >= 0; i = this.next[i]!) {
      if (this.kind[i] !== kind || this.recordings.flags[i]! & GONE) continue;
      if (this.ext[i] === e && compareUuid(this.rec, 16 * i, this.probe, 0) === 0) return i;
    }
    return -1;
  }

  /**
   * Writes `r` at `i` (a new metadata document's row when undefined) if it
   * has the compact form (false: it has not; nothing written).
   */
  private encode(r: DecidedRecord, i: number | undefined): boolean {
    for (const [key, value] of Object.entries(r))
      if (value !== undefined && !KEYS.has(key)) return false;
    if (typeof r.generation !== 'string' || !GENERATION.test(r.generation)) return false;
    if (Number(r.generation) > Number.MAX_SAFE_INTEGER || typeof r.size !== 'number') return false;
    if (typeof r.runId !== 'string' || typeof r.decidedAt !== 'string') return false;
    if (r.sealedBy !== undefined && typeof r.sealedBy !== 'string') return false;
    let kind: number;
    let extension = '';
    if (r.what === 'metadata') {
      if (r.recordingId !== undefined || r.type !== undefined) return false;
      if (r.object !== `${this.metadataFolder}${r.conversationId}.json`) return false;
      kind = METADATA;
    } else if (r.what === 'recording') {
      const p = parseRecordingName(this.env, this.day, r.object);
      if (!p || p.conversationId !== r.conversationId || p.recordingId !== r.recordingId)
        return false;
      if (p.type !== r.type) return false;
      kind = RECORDING_TYPES.indexOf(p.type);
      extension = r.object.slice(r.object.lastIndexOf('.') + 1);
    } else return false;
    // Everything checked (into the scratch bytes) before anything is written.
    const scratch = this.scratch;
    if (!packUuid(r.conversationId, scratch, 0)) return false;
    if (kind !== METADATA && !packUuid(r.recordingId!, scratch, 16)) return false;
    if (!packBase64(r.md5Hash, 16, scratch, 32)) return false;
    const hasCrc = r.crc32c !== undefined;
    if (hasCrc && !packBase64(r.crc32c!, 4, scratch, 48)) return false;
    let e = 0;
    if (kind !== METADATA) {
      const known = this.extIndex.get(extension);
      if (known === undefined && this.exts.length >= 0xffff) return false;
      e = known ?? this.exts.push(extension) - 1;
      this.extIndex.set(extension, e);
    }
    const s = this.stampOf(r.runId, r.decidedAt, r.sealedBy);
    const c = this.ids.add(r.conversationId);
    let copies: RecordCopies;
    let row: number;
    if (kind === METADATA) {
      if (this.metadata.rows <= c) this.metadata.resize(Math.max(c + 1, this.metadata.rows * 2));
      [copies, row] = [this.metadata, c];
    } else {
      if (this.head.length <= c) {
        const head = new Int32Array(Math.max(c + 1, this.head.length * 2)).fill(-1);
        head.set(this.head);
        this.head = head;
      }
      [copies, row] = [this.recordings, i!];
      this.conv[row] = c;
      this.kind[row] = kind;
      this.ext[row] = e;
      this.rec.set(scratch.subarray(16, 32), 16 * row);
    }
    copies.md5.set(scratch.subarray(32, 48), 16 * row);
    copies.crc.set(scratch.subarray(48, 52), 4 * row);
    copies.gen[row] = Number(r.generation);
    copies.size[row] = r.size;
    copies.flags[row] = (copies.flags[row]! & SEEN) | (hasCrc ? HAS_CRC : 0) | HELD;
    copies.stamp[row] = s;
    return true;
  }

  /** The number of a (run, time, seal) a record carries: a day's records share a few. */
  private stampOf(runId: string, decidedAt: string, sealedBy: string | undefined): number {
    const last = this.stamps[this.lastStamp];
    if (last && last[0] === runId && last[1] === decidedAt && last[2] === sealedBy)
      return this.lastStamp;
    const key = JSON.stringify([runId, decidedAt, sealedBy ?? null]);
    let s = this.stampIndex.get(key);
    if (s === undefined) {
      s = this.stamps.push([runId, decidedAt, sealedBy]) - 1;
      this.stampIndex.set(key, s);
    }
    this.lastStamp = s;
    return s;
  }

  /** The conversation number of a compact record. */
  private conversationOf(i: number): number {
    return i >= 0 ? this.conv[i]! : -2 - i;
  }

  private nameOf(i: number): string {
    const conversationId = this.ids.id(this.conversationOf(i));
    if (i < 0) return `${this.metadataFolder}${conversationId}.json`;
    const rec = unpackUuid(this.rec, 16 * i);
    return `${this.env}/${this.day}/${FOLDERS[this.kind[i]!]}/${conversationId}_${rec}.${this.exts[this.ext[i]!]}`;
  }

  private record(i: number, object = this.nameOf(i)): DecidedRecord {
    const [copies, row] = this.copiesOf(i);
    const [runId, decidedAt, sealedBy] = this.stamps[copies.stamp[row]!]!;
    return {
      object,
      what: i < 0 ? 'metadata' : 'recording',
      conversationId: this.ids.id(this.conversationOf(i)),
      ...(i < 0
        ? {}
        : {
            recordingId: unpackUuid(this.rec, 16 * i),
            type: FOLDERS[this.kind[i]!] as RecordingType,
          }),
      generation: String(copies.gen[row]),
      size: copies.size[row]!,
      md5Hash: unpackBase64(copies.md5, 16 * row, 16),
      ...(copies.flags[row]! & HAS_CRC ? {crc32c: unpackBase64(copies.crc, 4 * row, 4)} : {}),
      runId,
      decidedAt,
      ...(sealedBy !== undefined ? {sealedBy} : {}),
    };
  }

  /** Name order of two compact records of the same kind. */
  private compare(a: number, b: number): number {
    const keys = this.ids.bytes();
    const d = compareUuid(keys, 16 * this.conversationOf(a), keys, 16 * this.conversationOf(b));
    if (d !== 0 || a < 0) return d;
    return (
      compareUuid(this.rec, 16 * a, this.rec, 16 * b) ||
      cmp(this.exts[this.ext[a]!]!, this.exts[this.ext[b]!]!)
    );
  }

  private reserve(n: number): void {
    if (n <= this.next.length) return;
    // By half as much again: a day has about as many recordings as conversations.
    const m = Math.ceil(Math.max(n, this.next.length * 1.5));
    this.next = resized(this.next, m);
    this.conv = resized(this.conv, m);
    this.kind = resized(this.kind, m);
    this.ext = resized(this.ext, m);
    this.rec = resized(this.rec, 16 * m);
    this.recordings.resize(m);
  }
}
