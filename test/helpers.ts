/** Small builders and stream helpers shared by the tests. */
import {Writable} from 'node:stream';

/** A Writable that hands every chunk to `onChunk` (the end of a pipeline). */
export function sink(onChunk: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      onChunk(chunk);
      done();
    },
  });
}

/** Deterministic pseudo-random bytes (a linear congruential generator). */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
