/**
 * The mark a checked write leaves on an object (custom metadata
 * {@link VERIFIED_KEY}): which check Cloud Storage made of the bytes it
 * received, and against which checksum. A later attempt trusts a marked
 * object without reading it again; `grm verify` knows a marked recording
 * generation was checked at export. Pure.
 */
import type {StoredObject} from '../ports';

/** Custom metadata of an object whose write was checked: the check GCS made of its bytes. */
export const VERIFIED_KEY = 'verified';

/**
 * The value of {@link VERIFIED_KEY} a checked write leaves: the check and the
 * checksum GCS matched, `crc32c:…` or `md5:…`, where that checksum is known
 * when the metadata is sent (a multipart upload; earlier versions set it
 * after the upload). A resumable upload's metadata leaves before its bytes,
 * so its mark is the check alone, `crc32c` or `md5`: GCS creates that object
 * only if the checksum its last request carried, of every byte sent, matched.
 */
export function verifiedMark(check: 'crc32c' | 'md5', checksum?: string): string {
  return checksum === undefined ? check : `${check}:${checksum}`;
}

/** Whether the object carries the mark of a check GCS passed of the bytes it holds. */
export function hasVerifiedMark(o: StoredObject): boolean {
  const mark = o.metadata?.[VERIFIED_KEY];
  return (
    mark === verifiedMark('crc32c') ||
    mark === verifiedMark('md5') ||
    mark === verifiedMark('crc32c', o.crc32c) ||
    mark === verifiedMark('md5', o.md5Hash)
  );
}
