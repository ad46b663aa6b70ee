/**
 * What the local stack runs of the product itself, and how the stack is
 * described to a person.
 */
import type {Stack, StackFunctions} from './stack';

/**
 * The pipeline's Cloud Functions, by role. The planner, worker and checker
 * are built by the export-path and completeness issues; until then the stack
 * runs the Google Cloud stand-ins only.
 */
export function productFunctions(): StackFunctions {
  return {};
}

/** A human summary: environment to export, URLs, where files land. */
export function describeStack(stack: Stack): string {
  const lines = [
    '',
    'Environment (paste into another shell):',
    ...Object.entries(stack.env).map(([k, v]) => `  export ${k}=${v}`),
    '',
    'Services:',
    `  Pub/Sub emulator   ${stack.pubsubHost}  (topic ${stack.topic}, dead letters ${stack.deadLetterTopic})`,
    `  GCS emulator       ${stack.gcsUrl}  (bucket ${stack.bucket}; files under ${stack.dirs.gcsData})`,
    `  Secret Manager     ${stack.secretsEndpoint}  (gRPC)`,
    `  SendGrid sink      ${stack.sendgridUrl}  (emails under ${stack.dirs.mail}; list with npm run local:mail)`,
    `  Genesys simulator  ${stack.genesysUrl}  (ground truth: ${stack.genesysUrl}/_admin/truth?day=YYYY-MM-DD)`,
  ];
  const fns = Object.entries(stack.functions);
  lines.push('', 'Functions:');
  if (fns.length === 0) lines.push('  (none yet: the pipeline functions are not built)');
  for (const [role, fn] of fns)
    lines.push(`  ${role.padEnd(8)} ${fn!.target.padEnd(20)} ${fn!.url}`);
  lines.push('', `Logs: ${stack.dirs.logs}`);
  return lines.join('\n');
}
