/**
 * Offline validation of cloudbuild.yaml against Cloud Build's own `Build`
 * message (from the protos shipped in @google-cloud/cloudbuild): unknown
 * fields, wrong shapes and malformed Durations are reported with their path.
 */
import type * as protobuf from 'protobufjs';
import {validateMessage} from './proto-json';

const protos = require('@google-cloud/cloudbuild/build/protos/protos.json') as protobuf.INamespace;

export function validateBuild(doc: unknown): string[] {
  return validateMessage(protos, 'google.devtools.cloudbuild.v1.Build', doc, 'build');
}
