/**
 * The only module the Cloud Functions runtime loads. Each entry point
 * registers itself with the Functions Framework under the name Terraform
 * uses as `entry_point`.
 */
import {checkConfigAtStartup} from './entrypoints/startup';
import './entrypoints/plan-export';
import './entrypoints/export-batch';
import './entrypoints/check-day';

checkConfigAtStartup();
