'use strict';
// `npm run test:gcloud`: the GCS emulator under what the Google Cloud CLI does
// beyond the everyday commands (test/gcloud/*.gcloud.ts); `npm test` runs the
// everyday ones (test/local/gcs-gcloud.spec.ts). As the base config: the
// whole suite unless files are named on the command line.
const base = require('./.mocharc.js');
module.exports = {...base, ...(base.spec ? {spec: ['test/gcloud/**/*.gcloud.ts']} : {})};
