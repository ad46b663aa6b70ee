/** Integrity checks shared by the upload paths. */
import * as fs from 'node:fs';
import {StoreError} from './store';

/** Whether `value` is the base64 of exactly `bytes` bytes (a CRC32C: 4, an MD5: 16). */
function isBase64Of(value: string, bytes: number): boolean {
  return (
    /^[A-Za-z0-9+/]+={0,2}$/.test(value) &&
    value.length % 4 === 0 &&
    Buffer.from(value, 'base64').length === bytes
  );
}

/** Refuses a checksum the client sent that cannot be one (400), before any comparison. */
function checkFormat(expected: {md5?: string; crc32c?: string}): void {
  if (expected.crc32c !== undefined && !isBase64Of(expected.crc32c, 4)) {
    throw new StoreError(
      400,
      'invalid',
      `Invalid CRC32C "${expected.crc32c}": expected the base64 of its 4 bytes, big-endian.`,
    );
  }
  if (expected.md5 !== undefined && !isBase64Of(expected.md5, 16)) {
    throw new StoreError(
      400,
      'invalid',
      `Invalid MD5 hash "${expected.md5}": expected the base64 of its 16 bytes.`,
    );
  }
}

/**
 * Rejects an upload whose bytes do not match the checksums the client sent
 * (400 `invalid`, the message Cloud Storage gives); the caller creates nothing.
 */
export function verifyHashes(
  expected: {md5?: string; crc32c?: string},
  actual: {md5Hash: string; crc32c: string},
): void {
  checkFormat(expected);
  if (expected.crc32c !== undefined && expected.crc32c !== actual.crc32c) {
    throw new StoreError(
      400,
      'invalid',
      `Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`,
    );
  }
  if (expected.md5 !== undefined && expected.md5 !== actual.md5Hash) {
    throw new StoreError(
      400,
      'invalid',
      `Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${actual.md5Hash}".`,
    );
  }
}

export async function fsyncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
