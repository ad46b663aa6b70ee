'use strict';
// One mocha run for the whole suite. The local stack (emulators, stand-ins) is
// started once per run by test/setup/stack.ts (a mocha root-hook plugin) and
// only when a suite asks for it.
module.exports = {
  require: ['tsx/cjs', './test/setup/root-hooks.ts'],
  extension: ['ts'],
  spec: ['test/**/*.spec.ts'],
  recursive: true,
  timeout: 20000,
  'enable-source-maps': true,
  'throw-deprecation': false,
  exit: true,
};
