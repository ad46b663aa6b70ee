'use strict';
// `npm run test:cli`: the command-line tools run whole, each with a stack of
// its own (test/cli/*.cli.ts); `npm test` runs the fast ones (test/e2e/demo.spec.ts,
// test/local/stack-cli.spec.ts). As the base config: the whole suite unless
// files are named on the command line.
const base = require('./.mocharc.js');
module.exports = {...base, ...(base.spec ? {spec: ['test/cli/**/*.cli.ts']} : {}), timeout: 300000};
