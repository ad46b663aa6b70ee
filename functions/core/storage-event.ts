/**
 * Cloud Storage object CloudEvents, as Eventarc delivers them: validated
 * before anything reads their fields. The checker's trigger asks only for
 * finalize events (infra/functions.tf); any other object event type is still a
 * well-formed storage event, which the checker acknowledges and ignores.
 */
import {InputError} from './errors';

export const FINALIZED = 'google.cloud.storage.object.v1.finalized';

/** Every Cloud Storage object event type Eventarc can deliver. */
export const STORAGE_EVENT_TYPES = [
  FINALIZED,
  'google.cloud.storage.object.v1.deleted',
  'google.cloud.storage.object.v1.archived',
  'google.cloud.storage.object.v1.metadataUpdated',
] as const;

export type StorageEventType = (typeof STORAGE_EVENT_TYPES)[number];

export interface FinalizedObject {
  bucket: string;
  name: string;
  generation?: string;
}

/** A well-formed Cloud Storage object event: its type and the object it concerns. */
export interface StorageEvent extends FinalizedObject {
  type: StorageEventType;
}

function isStorageEventType(type: unknown): type is StorageEventType {
  return (STORAGE_EVENT_TYPES as readonly unknown[]).includes(type);
}

/**
 * Any Cloud Storage object event (finalized, deleted, archived,
 * metadataUpdated). Throws InputError naming what is wrong with an event that
 * is not one, or whose object resource is malformed.
 */
export function parseStorageEvent(event: {type?: unknown; data?: unknown}): StorageEvent {
  const type = event.type;
  if (!isStorageEventType(type)) {
    throw new InputError(
      `not a Cloud Storage object event: type "${String(type)}" (expected one of ${STORAGE_EVENT_TYPES.join(', ')})`,
    );
  }
  const d = event.data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    throw new InputError('malformed storage event: it carries no object resource in its data');
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
    type,
    bucket: bucket as string,
    name: name as string,
    ...(generation !== undefined ? {generation: String(generation)} : {}),
  };
}
