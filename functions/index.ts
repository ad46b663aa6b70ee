/**
 * The only module the Cloud Functions runtime loads. Each entry point
 * registers itself with the Functions Framework under the name Terraform
 * uses as `entry_point`. It loads no SDK: every instance loads this module
 * whichever function it serves, so container.ts loads each adapter and its SDK
 * when an invocation first needs it.
 */
import {checkConfigAtStartup} from './entrypoints/startup';
import './entrypoints/plan-export';
import './entrypoints/export-batch';
import './entrypoints/check-day';

checkConfigAtStartup();
