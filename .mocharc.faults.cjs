'use strict';
// `npm run faults`: the whole fault matrix (test/faults/*.faults.ts) on its own
// stack; `npm test` runs only its fast cases (test/e2e/faults.spec.ts).
const base = require('./.mocharc.js');
module.exports = {
  ...base,
  // As the base config: the whole matrix unless files are named on the command line.
  ...(base.spec ? {spec: ['test/faults/**/*.faults.ts']} : {}),
  timeout: 600000,
};
