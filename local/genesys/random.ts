/**
 * Deterministic randomness for the synthetic organisation: everything is a
 * pure function of the seed and a few labels, so the same seed always gives
 * the same conversations, recordings and media bytes.
 */
import {createHash} from 'node:crypto';

/** 32 bytes derived from the labels. */
export function hashBytes(...labels: Array<string | number>): Buffer {
  return createHash('sha256').update(labels.join('\u0000')).digest();
}

/** A small, fast PRNG (mulberry32) seeded from labels. */
export class Rng {
  private state: number;

  constructor(...labels: Array<string | number>) {
    this.state = hashBytes(...labels).readUInt32BE(0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Picks by weight: `{a: 3, b: 1}` gives a three times as often as b. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }
}

/** Formats 16 bytes as a version-4 style UUID string. */
export function uuidFromBytes(bytes: Buffer): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A deterministic UUID for the labels. */
export function uuid(...labels: Array<string | number>): string {
  return uuidFromBytes(hashBytes(...labels));
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Conversation ids carry their day and index (masked by hash bytes so they
 * look random), so the simulator can resolve any id it ever handed out
 * without keeping an index, even after a restart. The day is a signed 24-bit
 * number of days since 1970-01-01 (±22,000 years: every day an ISO-8601
 * interval with a four-digit year can touch, including the days before 1970),
 * the index an unsigned 24-bit one.
 */
export function encodeConversationId(seed: string, dayNumber: number, index: number): string {
  const bytes = hashBytes('conversation', seed, dayNumber, index);
  const tail = Buffer.alloc(6);
  tail.writeIntBE(dayNumber, 0, 3);
  tail.writeUIntBE(index, 3, 3);
  for (let i = 0; i < 6; i++) bytes[10 + i] = tail[i]! ^ bytes[i]!;
  return uuidFromBytes(bytes);
}

/** The (day number, index) an id encodes, if it is one of ours for this seed. */
export function decodeConversationId(
  seed: string,
  id: string,
): {dayNumber: number; index: number} | undefined {
  if (!UUID_RE.test(id)) return undefined;
  const bytes = Buffer.from(id.replace(/-/g, ''), 'hex');
  const tail = Buffer.alloc(6);
  for (let i = 0; i < 6; i++) tail[i] = bytes[10 + i]! ^ bytes[i]!;
  const dayNumber = tail.readIntBE(0, 3);
  const index = tail.readUIntBE(3, 3);
  return encodeConversationId(seed, dayNumber, index) === id ? {dayNumber, index} : undefined;
}

export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a UTC day (`YYYY-MM-DD`, or `±YYYYYY-MM-DD` outside years 0–9999). */
export function dayNumberOf(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00.000Z`) / DAY_MS);
}

/** The UTC day `n` days after 1970-01-01 (negative: before). */
export function dayOfNumber(n: number): string {
  return new Date(n * DAY_MS).toISOString().split('T')[0]!;
}
