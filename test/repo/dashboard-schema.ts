/**
 * Offline validation of infra/dashboard.json against the Monitoring
 * dashboards API's own `Dashboard` message (from the protos shipped in
 * @google-cloud/monitoring-dashboards): unknown fields, wrong shapes, enum
 * values that do not exist, two members of one oneof (a widget that is both
 * a chart and a text) and malformed Durations are reported with their path.
 */
import type * as protobuf from 'protobufjs';
import {validateMessage} from './proto-json';

const protos =
  require('@google-cloud/monitoring-dashboards/build/protos/protos.json') as protobuf.INamespace;

export function validateDashboard(doc: unknown): string[] {
  return validateMessage(protos, 'google.monitoring.dashboard.v1.Dashboard', doc, 'dashboard');
}
