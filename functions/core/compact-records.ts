/**
 * The day's decided records (core/decided-records.ts) held compactly, for
 * days of a million conversations: a record in the form the checker writes
 * for the day's own objects (a recording `ENV/DAY/TYPE/CONV_REC.EXT` or a
 * metadata document `ENV/DAY/metadata/CONV.json`, canonical ids, a numeric
 * generation, base64 MD5 and CRC32C, no retention, no earlier copies) costs
 * about 70 bytes of typed arrays, chained to its conversation's number in an
 * {@link IdTable}. Any other record is kept as it is, in a Map. Records come
 * back as the same objects, in the same name order, as a Map would give.
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

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class CompactRecords implements RecordTable {
  private readonly odd = new Map<string, DecidedRecord>();
  private readonly oddSeen = new Set<string>();
  private head = new Int32Array(0);
  private next: Int32Array;
  private conv: Int32Array;
  private kind: Uint8Array;
  private ext: Uint16Array;
  private rec: Uint8Array;
  private gen: Float64Array;
  private size: Float64Array;
  private md5: Uint8Array;
  private crc: Uint8Array;
  private flags: Uint8Array;
  private stamp: Int32Array;
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

  /** @param capacity - records expected (room is made for more as they come) */
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
    this.gen = new Float64Array(n);
    this.size = new Float64Array(n);
    this.md5 = new Uint8Array(16 * n);
    this.crc = new Uint8Array(4 * n);
    this.flags = new Uint8Array(n);
    this.stamp = new Int32Array(n);
  }

  /** Records held in the compact form. */
  get compacted(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (!(this.flags[i]! & GONE)) n++;
    return n;
  }

  get(object: string): DecidedRecord | undefined {
    const odd = this.odd.get(object);
    if (odd) return odd;
    const i = this.find(object);
    return i < 0 ? undefined : this.record(i);
  }

  set(record: DecidedRecord): void {
    const {object} = record;
    if (this.odd.has(object)) {
      this.odd.set(object, record);
      return;
    }
    const i = this.find(object);
    if (i >= 0 && this.encode(record, i)) return;
    if (i >= 0) {
      // No longer in the compact form (an earlier copy, say): kept as it is from now on.
      this.lastName = undefined;
      this.flags[i]! |= GONE;
      if (this.flags[i]! & SEEN) this.oddSeen.add(object);
      this.odd.set(object, record);
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
    return i >= 0 && (this.flags[i]! & SEEN) !== 0;
  }

  see(object: string): void {
    if (this.odd.has(object)) {
      this.oddSeen.add(object);
      return;
    }
    const i = this.find(object);
    if (i >= 0) this.flags[i]! |= SEEN;
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

  /**
   * The compact records (those not gone) in name order: put in their kind's
   * place in one pass, then each kind sorted on its own (a sort takes a
   * working copy of what it sorts: one kind's, never the day's).
   */
  private nameOrder(): Int32Array {
    const kinds = FOLDERS.length;
    const starts = new Int32Array(kinds + 1);
    for (let i = 0; i < this.count; i++)
      if (!(this.flags[i]! & GONE)) starts[RANK[this.kind[i]!]! + 1]!++;
    for (let r = 0; r < kinds; r++) starts[r + 1]! += starts[r]!;
    const order = new Int32Array(starts[kinds]!);
    const at = starts.slice(0, kinds);
    for (let i = 0; i < this.count; i++)
      if (!(this.flags[i]! & GONE)) order[at[RANK[this.kind[i]!]!]!++] = i;
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
    let kind: number;
    let conversationId: string;
    let recordingId = '';
    let extension = '';
    if (object.startsWith(this.metadataFolder) && object.endsWith('.json')) {
      kind = METADATA;
      conversationId = object.slice(this.metadataFolder.length, -'.json'.length);
    } else {
      const p = parseRecordingName(this.env, this.day, object);
      if (!p) return -1;
      kind = RECORDING_TYPES.indexOf(p.type);
      conversationId = p.conversationId;
      recordingId = p.recordingId;
      extension = object.slice(object.lastIndexOf('.') + 1);
    }
    const c = this.ids.find(conversationId);
    if (c < 0 || c >= this.head.length || !this.ids.isCanonical(c)) return -1;
    if (kind !== METADATA && !packUuid(recordingId, this.probe, 0)) return -1;
    const e = this.extIndex.get(extension);
    for (let i = this.head[c]!; i >= 0; i = this.next[i]!) {
      if (this.kind[i] !== kind || this.flags[i]! & GONE) continue;
      if (kind === METADATA) return i;
      if (this.ext[i] === e && compareUuid(this.rec, 16 * i, this.probe, 0) === 0) return i;
    }
    return -1;
  }

  /** Writes `r` at `i` if it has the compact form (false: it has not; nothing written). */
  private encode(r: DecidedRecord, i: number): boolean {
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
    if (this.head.length <= c) {
      const head = new Int32Array(Math.max(c + 1, this.head.length * 2)).fill(-1);
      head.set(this.head);
      this.head = head;
    }
    this.conv[i] = c;
    this.kind[i] = kind;
    this.ext[i] = e;
    this.rec.set(scratch.subarray(16, 32), 16 * i);
    this.md5.set(scratch.subarray(32, 48), 16 * i);
    this.crc.set(scratch.subarray(48, 52), 4 * i);
    this.gen[i] = Number(r.generation);
    this.size[i] = r.size;
    this.flags[i] = (this.flags[i]! & SEEN) | (hasCrc ? HAS_CRC : 0);
    this.stamp[i] = s;
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

  private nameOf(i: number): string {
    const conversationId = this.ids.id(this.conv[i]!);
    const kind = this.kind[i]!;
    if (kind === METADATA) return `${this.metadataFolder}${conversationId}.json`;
    const rec = unpackUuid(this.rec, 16 * i);
    return `${this.env}/${this.day}/${FOLDERS[kind]}/${conversationId}_${rec}.${this.exts[this.ext[i]!]}`;
  }

  private record(i: number, object = this.nameOf(i)): DecidedRecord {
    const kind = this.kind[i]!;
    const [runId, decidedAt, sealedBy] = this.stamps[this.stamp[i]!]!;
    return {
      object,
      what: kind === METADATA ? 'metadata' : 'recording',
      conversationId: this.ids.id(this.conv[i]!),
      ...(kind === METADATA
        ? {}
        : {recordingId: unpackUuid(this.rec, 16 * i), type: FOLDERS[kind] as RecordingType}),
      generation: String(this.gen[i]),
      size: this.size[i]!,
      md5Hash: unpackBase64(this.md5, 16 * i, 16),
      ...(this.flags[i]! & HAS_CRC ? {crc32c: unpackBase64(this.crc, 4 * i, 4)} : {}),
      runId,
      decidedAt,
      ...(sealedBy !== undefined ? {sealedBy} : {}),
    };
  }

  /** Name order of two compact records. */
  private compare(a: number, b: number): number {
    const ka = this.kind[a]!;
    const kb = this.kind[b]!;
    if (ka !== kb) return RANK[ka]! - RANK[kb]!;
    const keys = this.ids.bytes();
    const d = compareUuid(keys, 16 * this.conv[a]!, keys, 16 * this.conv[b]!);
    if (d !== 0 || ka === METADATA) return d;
    return (
      compareUuid(this.rec, 16 * a, this.rec, 16 * b) ||
      cmp(this.exts[this.ext[a]!]!, this.exts[this.ext[b]!]!)
    );
  }

  private reserve(n: number): void {
    if (n <= this.next.length) return;
    // By half as much again: a day's records are about as many as its claims.
    const m = Math.ceil(Math.max(n, this.next.length * 1.5));
    this.next = resized(this.next, m);
    this.conv = resized(this.conv, m);
    this.kind = resized(this.kind, m);
    this.ext = resized(this.ext, m);
    this.rec = resized(this.rec, 16 * m);
    this.gen = resized(this.gen, m);
    this.size = resized(this.size, m);
    this.md5 = resized(this.md5, 16 * m);
    this.crc = resized(this.crc, 4 * m);
    this.flags = resized(this.flags, m);
    this.stamp = resized(this.stamp, m);
  }
}
