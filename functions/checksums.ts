/**
 * The checksums GCS keeps for every object, computed here: MD5 (OpenSSL) and
 * CRC32C in native code (@node-rs/crc32: the CPU's CRC32 instructions), each
 * base64 as GCS reports them. The native binary is loaded on first use; where
 * it does not load, CRC32C is unavailable and callers fall back to MD5.
 */
import {createHash} from 'node:crypto';
import type {Readable} from 'node:stream';

export type Crc32cFn = (input: Uint8Array, initialState?: number) => number;
let nativeCrc32c: Crc32cFn | null | undefined;

/** Native CRC32C, or null where its prebuilt binary does not load. */
export function loadNativeCrc32c(): Crc32cFn | null {
  if (nativeCrc32c === undefined) {
    try {
      // Required here, not imported: a platform without the prebuilt binary falls back to MD5.
      nativeCrc32c = (require('@node-rs/crc32') as typeof import('@node-rs/crc32')).crc32c;
    } catch {
      nativeCrc32c = null;
    }
  }
  return nativeCrc32c;
}

/** A CRC32C state as GCS prints it: the big-endian 4 bytes, base64. */
export function crc32cBase64(state: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(state >>> 0);
  return out.toString('base64');
}

/** Size, MD5 and (where native CRC32C loads) CRC32C of a stream's bytes. */
export async function digestStream(
  body: Readable,
): Promise<{size: number; md5Hash: string; crc32c?: string}> {
  const md5 = createHash('md5');
  const crc32c = loadNativeCrc32c();
  let state = 0;
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    size += b.length;
    md5.update(b);
    if (crc32c) state = crc32c(b, state);
  }
  return {size, md5Hash: md5.digest('base64'), ...(crc32c ? {crc32c: crc32cBase64(state)} : {})};
}
