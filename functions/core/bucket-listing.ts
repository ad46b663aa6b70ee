/**
 * The listing of a day's recording folders as confirmation needs it, held
 * compactly: a recording object of a planned conversation costs about 60
 * bytes (its recording id, type, extension, size, MD5 and CRC32C as bytes,
 * chained to its conversation's number in the plan's {@link IdTable}), so a
 * day of a million recordings fits in tens of MB where the listing's own
 * objects took hundreds. Objects of conversations the plan lacks become gaps
 * (and stay findable by name, as does anything whose name is not a
 * recording's); values not in canonical form are kept as they are.
 *
 * Objects are added one at a time, in listing order (a listing page at a
 * time); the answers are the same as a Map of the whole listing would give.
 *
 * Pure.
 */
import {RECORDING_TYPES, RecordingType} from './content-types';
import {
  IdTable,
  compareUuid,
  packBase64,
  packUuid,
  resized,
  unpackBase64,
  unpackUuid,
} from './compact-ids';
import type {Gap} from './day-outcome';
import {
  ClaimLookup,
  ParsedName,
  StoredFacts,
  parseRecordingName,
  unplannedGap,
} from './reports-vs-bucket';

export class BucketListing implements ClaimLookup {
  /** Recording objects of conversations the plan does not hold, as gaps (listing order). */
  readonly unplanned: Gap[] = [];
  private readonly strays = new Map<string, StoredFacts>();
  private head: Int32Array;
  private next: Int32Array;
  private rec: Uint8Array;
  private type: Uint8Array;
  private ext: Uint16Array;
  private size: Float64Array;
  private md5: Uint8Array;
  private crc: Uint8Array;
  private readonly oddRec = new Map<number, string>();
  private readonly oddHashes = new Map<number, {md5Hash: string; crc32c: string}>();
  private readonly exts: string[] = [];
  private readonly extIndex = new Map<string, number>();
  private readonly probe = new Uint8Array(16);
  private count = 0;

  /**
   * @param ids - the plan's conversation ids; numbers below `planned` are the plan's
   * @param capacity - recordings expected (room is made for more as they come)
   */
  constructor(
    private readonly env: string,
    private readonly day: string,
    private readonly ids: IdTable,
    private readonly planned: number,
    capacity = planned,
  ) {
    this.head = new Int32Array(planned).fill(-1);
    const n = Math.max(16, capacity);
    this.next = new Int32Array(n);
    this.rec = new Uint8Array(16 * n);
    this.type = new Uint8Array(n);
    this.ext = new Uint16Array(n);
    this.size = new Float64Array(n);
    this.md5 = new Uint8Array(16 * n);
    this.crc = new Uint8Array(4 * n);
  }

  /** Objects held compactly (planned conversations' recordings). */
  get recordings(): number {
    return this.count;
  }

  add(o: StoredFacts): void {
    const p = parseRecordingName(this.env, this.day, o.name);
    const n = p ? this.plannedNumber(p.conversationId) : -1;
    const facts = {name: o.name, size: o.size, md5Hash: o.md5Hash, crc32c: o.crc32c};
    if (!p || n < 0) {
      if (p) this.unplanned.push(unplannedGap(p));
      this.strays.set(o.name, facts);
      return;
    }
    const extension = o.name.slice(o.name.lastIndexOf('.') + 1);
    let e = this.extIndex.get(extension);
    if (e === undefined) {
      if (this.exts.length >= 0xffff) {
        this.strays.set(o.name, facts); // absurdly many extensions: kept as they are
        return;
      }
      e = this.exts.push(extension) - 1;
      this.extIndex.set(extension, e);
    }
    const i = this.count++;
    this.reserve(this.count);
    this.next[i] = this.head[n]!;
    this.head[n] = i;
    if (!packUuid(p.recordingId, this.rec, 16 * i)) this.oddRec.set(i, p.recordingId);
    this.type[i] = RECORDING_TYPES.indexOf(p.type);
    this.ext[i] = e;
    this.size[i] = o.size;
    if (!packBase64(o.md5Hash, 16, this.md5, 16 * i) || !packBase64(o.crc32c, 4, this.crc, 4 * i))
      this.oddHashes.set(i, {md5Hash: o.md5Hash, crc32c: o.crc32c});
  }

  facts(name: string): StoredFacts | undefined {
    const p = parseRecordingName(this.env, this.day, name);
    const n = p ? this.plannedNumber(p.conversationId) : -1;
    if (!p || n < 0) return this.strays.get(name);
    const extension = name.slice(name.lastIndexOf('.') + 1);
    const e = this.extIndex.get(extension);
    if (e === undefined) return undefined;
    const t = RECORDING_TYPES.indexOf(p.type);
    const canonical = packUuid(p.recordingId, this.probe, 0);
    for (let i = this.head[n]!; i >= 0; i = this.next[i]!) {
      if (this.type[i] !== t || this.ext[i] !== e) continue;
      const odd = this.oddRec.get(i);
      const same = canonical
        ? odd === undefined && compareUuid(this.rec, 16 * i, this.probe, 0) === 0
        : odd === p.recordingId;
      if (same) return this.factsOf(i, name);
    }
    return undefined;
  }

  objectsOf(conversationId: string): ParsedName[] {
    const n = this.plannedNumber(conversationId);
    if (n < 0 || this.head[n]! < 0) return [];
    const out: ParsedName[] = [];
    for (let i = this.head[n]!; i >= 0; i = this.next[i]!) {
      const type = RECORDING_TYPES[this.type[i]!] as RecordingType;
      const recordingId = this.oddRec.get(i) ?? unpackUuid(this.rec, 16 * i);
      out.push({
        name: `${this.env}/${this.day}/${type}/${conversationId}_${recordingId}.${this.exts[this.ext[i]!]!}`,
        type,
        conversationId,
        recordingId,
      });
    }
    return out.reverse(); // chained newest first
  }

  private plannedNumber(conversationId: string): number {
    const n = this.ids.find(conversationId);
    return n >= 0 && n < this.planned ? n : -1;
  }

  private factsOf(i: number, name: string): StoredFacts {
    const odd = this.oddHashes.get(i);
    return {
      name,
      size: this.size[i]!,
      md5Hash: odd ? odd.md5Hash : unpackBase64(this.md5, 16 * i, 16),
      crc32c: odd ? odd.crc32c : unpackBase64(this.crc, 4 * i, 4),
    };
  }

  private reserve(n: number): void {
    if (n <= this.next.length) return;
    // By half as much again: a day has about as many recordings as the plan has conversations.
    const m = Math.ceil(Math.max(n, this.next.length * 1.5));
    this.next = resized(this.next, m);
    this.rec = resized(this.rec, 16 * m);
    this.type = resized(this.type, m);
    this.ext = resized(this.ext, m);
    this.size = resized(this.size, m);
    this.md5 = resized(this.md5, 16 * m);
    this.crc = resized(this.crc, 4 * m);
  }
}
