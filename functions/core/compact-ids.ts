/**
 * Ids and checksums held in little memory, for days of a million
 * conversations: a lower-case UUID as 16 bytes, a base64 MD5 as 16 and a
 * base64 CRC32C as 4, and a table that numbers ids densely (an open-addressing
 * hash over the bytes). Anything not in the canonical form is kept as it is,
 * beside: nothing is ever rewritten or guessed.
 *
 * Pure.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = '0123456789abcdef';
/** Where the hex digits of a UUID are (every position but the four hyphens). */
const DIGITS = [...Array(36).keys()].filter(i => ![8, 13, 18, 23].includes(i));

/** Writes a canonical UUID's 16 bytes at `at`; false (nothing written) for any other string. */
export function packUuid(id: string, out: Uint8Array, at: number): boolean {
  if (id.length !== 36 || !UUID.test(id)) return false;
  for (let k = 0; k < 16; k++) {
    const hi = id.charCodeAt(DIGITS[2 * k]!);
    const lo = id.charCodeAt(DIGITS[2 * k + 1]!);
    out[at + k] = (nibble(hi) << 4) | nibble(lo);
  }
  return true;
}

function nibble(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

/** The UUID whose 16 bytes are at `at`. */
export function unpackUuid(bytes: Uint8Array, at: number): string {
  let s = '';
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) s += '-';
    const b = bytes[at + k]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

/** Compares the 16 bytes at `a` and `b` (as their UUIDs compare as strings). */
export function compareUuid(x: Uint8Array, a: number, y: Uint8Array, b: number): number {
  for (let k = 0; k < 16; k++) {
    const d = x[a + k]! - y[b + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Writes the `n` bytes a base64 string of exactly that many bytes encodes
 * (and that encodes back to the same string); false for any other string.
 */
export function packBase64(s: string, n: number, out: Uint8Array, at: number): boolean {
  if (typeof s !== 'string' || s.length !== Math.ceil(n / 3) * 4) return false;
  const b = Buffer.from(s, 'base64');
  if (b.length !== n || b.toString('base64') !== s) return false;
  out.set(b, at);
  return true;
}

export function unpackBase64(bytes: Uint8Array, at: number, n: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, n).toString('base64');
}

type Typed = Uint8Array | Uint16Array | Int32Array | Float64Array;

/** `a`, or a copy twice as long (at least `need`) when it is shorter than `need`. */
export function grow<T extends Typed>(a: T, need: number): T {
  return need <= a.length ? a : resized(a, Math.max(need, a.length * 2));
}

/** A copy of `a` of length `n` (zeros after its own values). */
export function resized<T extends Typed>(a: T, n: number): T {
  const next = new (a.constructor as new (n: number) => T)(n);
  next.set(a.length <= n ? a : a.subarray(0, n));
  return next;
}

/**
 * Ids numbered 0, 1, 2… in the order they are added: a canonical UUID costs
 * 16 bytes and a slot, anything else an entry of a Map.
 */
export class IdTable {
  private keys = new Uint8Array(16 * 1024);
  private slots = new Int32Array(2048).fill(-1);
  private canonical = new Uint8Array(1024);
  private readonly odd = new Map<string, number>();
  private readonly oddIds = new Map<number, string>();
  private readonly probe = new Uint8Array(16);
  size = 0;

  /** The id's number, or -1. */
  find(id: string): number {
    if (!packUuid(id, this.probe, 0)) return this.odd.get(id) ?? -1;
    return this.slots[this.slotOf(this.probe, 0)]!;
  }

  /** The id's number, added if new. */
  add(id: string): number {
    if (!packUuid(id, this.probe, 0)) {
      const known = this.odd.get(id);
      if (known !== undefined) return known;
      const n = this.next();
      this.odd.set(id, n);
      this.oddIds.set(n, id);
      return n;
    }
    const slot = this.slotOf(this.probe, 0);
    const known = this.slots[slot]!;
    if (known >= 0) return known;
    const n = this.next();
    this.keys.set(this.probe, 16 * n);
    this.canonical[n] = 1;
    this.slots[slot] = n;
    if (2 * this.size > this.slots.length) this.rehash();
    return n;
  }

  /** The id numbered `n`. */
  id(n: number): string {
    return this.canonical[n] ? unpackUuid(this.keys, 16 * n) : this.oddIds.get(n)!;
  }

  /** The 16 bytes of id `n` are at `bytes()[16 * n]` when it is a canonical UUID. */
  isCanonical(n: number): boolean {
    return this.canonical[n] === 1;
  }

  bytes(): Uint8Array {
    return this.keys;
  }

  private next(): number {
    const n = this.size++;
    this.keys = grow(this.keys, 16 * this.size);
    this.canonical = grow(this.canonical, this.size);
    return n;
  }

  private hash(key: Uint8Array, at: number): number {
    let h = 0x811c9dc5;
    for (let k = 0; k < 16; k++) h = Math.imul(h ^ key[at + k]!, 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The slot that holds the key, or the empty slot where it would go. */
  private slotOf(key: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    for (let s = this.hash(key, at) & mask; ; s = (s + 1) & mask) {
      const n = this.slots[s]!;
      if (n < 0 || compareUuid(this.keys, 16 * n, key, at) === 0) return s;
    }
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    for (let n = 0; n < this.size; n++)
      if (this.canonical[n]) this.slots[this.slotOf(this.keys, 16 * n)] = n;
  }
}
