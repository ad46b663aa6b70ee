'use strict';
// One mocha run for the whole suite. The local stack (emulators, stand-ins) is
// started once per run by test/setup/stack.ts (a mocha root-hook plugin) and
// only when a suite asks for it.
//
// Mocha adds a config's `spec` to the files named on the command line, so the
// whole suite is the default only when none is named: `npx mocha FILE` runs
// FILE alone.
const fs = require('node:fs');

// Options whose value is the next argument (`--config .mocharc.faults.cjs` names no spec).
const TAKES_VALUE = new Set([
  '--config',
  '--reporter',
  '-R',
  '--reporter-option',
  '-O',
  '--grep',
  '-g',
  '--fgrep',
  '-f',
  '--timeout',
  '-t',
  '--require',
  '-r',
  '--ui',
  '-u',
  '--file',
  '--ignore',
  '--extension',
  '--slow',
  '-s',
  '--retries',
  '--jobs',
  '-j',
]);

// A file, a folder or a glob (quoted globs reach mocha unexpanded).
const argv = process.argv.slice(2);
const named = argv.filter(
  (a, i) =>
    !a.startsWith('-') &&
    !TAKES_VALUE.has(argv[i - 1] ?? '') &&
    (fs.existsSync(a) || /[*?]|\.[cm]?[jt]s$/.test(a)),
);

module.exports = {
  require: ['tsx/cjs', './test/setup/root-hooks.ts'],
  extension: ['ts'],
  ...(named.length > 0 ? {} : {spec: ['test/**/*.spec.ts']}),
  recursive: true,
  timeout: 20000,
  'enable-source-maps': true,
  'throw-deprecation': false,
  exit: true,
};
