/** Stream idioms the adapters and the use cases share. */
import type {Readable} from 'node:stream';
import {PermanentError} from './core/errors';

/** Collects a stream into one buffer; past `limit` bytes it fails with "`what` exceeds …". */
export async function readAll(
  body: Readable,
  limit = Infinity,
  what = 'the body',
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PermanentError(`${what} exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
