/**
 * The Functions Framework's registration API: the entry points register
 * their handlers through this module, so that adapters stay the only
 * importers of an SDK.
 */
export {cloudEvent, http} from '@google-cloud/functions-framework';
export type {CloudEvent} from '@google-cloud/functions-framework';
