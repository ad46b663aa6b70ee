/**
 * What an object already stored under a recording's name proves. The
 * exporter writes each recording with the size it expects and the mark of
 * the check GCS made of its upload; GCS finalizes an upload whole or not at
 * all. An object with both, of that size, is a complete copy; one of another
 * size is incomplete; one without the mark proves nothing (it is downloaded
 * again and compared). Pure: services/stored-recordings.ts lists the objects.
 */
import {PermanentError} from './errors';
import type {StoredObject} from '../ports';
import {hasVerifiedMark} from './verified-mark';

/** Custom metadata of a recording object: the bytes the exporter meant to store. */
export const EXPECTED_SIZE_KEY = 'expectedSize';

/** What an object already under a recording's name proves. */
export function provenState(
  o: StoredObject,
  conversationId: string,
  recordingId: string,
): 'complete' | 'incomplete' | undefined {
  const md = o.metadata;
  const expected = Number(md?.[EXPECTED_SIZE_KEY]);
  if (
    md?.recordingId !== recordingId ||
    md.conversationId !== conversationId ||
    !Number.isSafeInteger(expected)
  )
    return undefined;
  if (o.size !== expected) return 'incomplete';
  // Created with the mark of the check GCS made of its bytes against the checksum its write
  // sent (one written by hand, or by a version that could not mark it, lacks it): else compare.
  return hasVerifiedMark(o) ? 'complete' : undefined;
}

/**
 * What is stored under the name of a recording the source no longer serves,
 * when it is not a complete copy (it cannot be downloaded again to compare).
 */
export function storedNote(mine: StoredObject[], state: 'incomplete' | undefined): string {
  if (mine.length > 1)
    return (
      `${mine.length} objects are stored under its name (${mine.map(o => o.name).join(', ')}); ` +
      'they were left untouched'
    );
  const o = mine[0]!;
  return state === 'incomplete'
    ? `an incomplete object is stored under its name: gs object ${o.name} holds ${o.size} of the ` +
        `${o.metadata?.[EXPECTED_SIZE_KEY]} bytes it should hold; it was left untouched`
    : `gs object ${o.name} (${o.size} bytes) is stored under its name, not proven complete ` +
        '(no mark of a passed check by this exporter); it was left untouched';
}

/** An object stored under a recording's name that is not what the source serves: never overwritten. */
export function differentContent(name: string, detail: string): PermanentError {
  return new PermanentError(
    `gs object ${name} already exists with different content (${detail}); it was left untouched`,
  );
}
