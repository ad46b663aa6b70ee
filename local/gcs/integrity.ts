/** Integrity checks shared by the upload paths. */
import * as fs from 'node:fs';
import {StoreError} from './store';

/** Rejects an upload whose bytes do not match the checksums the client sent. */
export function verifyHashes(
  expected: {md5?: string; crc32c?: string},
  actual: {md5Hash: string; crc32c: string},
): void {
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
