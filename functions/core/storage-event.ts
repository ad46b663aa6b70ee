/**
 * The Cloud Storage object-finalize CloudEvent, as Eventarc delivers it:
 * validated before anything reads its fields.
 */
import {InputError} from './errors';

export const FINALIZED = 'google.cloud.storage.object.v1.finalized';

export interface FinalizedObject {
  bucket: string;
  name: string;
  generation?: string;
}

/** Throws InputError naming what is wrong with the event. */
export function parseFinalizedEvent(event: {type?: unknown; data?: unknown}): FinalizedObject {
  if (event.type !== FINALIZED) {
    throw new InputError(`expected a ${FINALIZED} event, got type "${String(event.type)}"`);
  }
  const d = event.data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    throw new InputError('the event carries no object resource in its data');
  }
  const {bucket, name, generation} = d as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof bucket !== 'string' || bucket === '')
    problems.push('data.bucket must be a bucket name');
  if (typeof name !== 'string' || name === '' || name.length > 1024)
    problems.push('data.name must be an object name of 1 to 1024 characters');
  if (generation !== undefined && !/^\d+$/.test(String(generation)))
    problems.push('data.generation must be digits');
  if (problems.length > 0) throw new InputError(`malformed storage event: ${problems.join('; ')}`);
  return {
    bucket: bucket as string,
    name: name as string,
    ...(generation !== undefined ? {generation: String(generation)} : {}),
  };
}
