'use strict';
// ESLint = gts (Google's TypeScript style) plus the rules this project adds:
// no `any` without a reason, and the layering rules from the README.
const gts = require('gts');

/** Modules that only adapters (and the composition root) may import. */
const SDKS = [
  '@google-cloud/*',
  'purecloud-platform-client-v2',
  '@sendgrid/*',
  'node:fs',
  'fs',
  'node:http',
  'http',
  'node:https',
  'https',
];

/** `patterns` of @typescript-eslint/no-restricted-imports for each module in `names`. */
const banned = (names, message, allowTypeImports = false) => ({
  group: names,
  message,
  ...(allowTypeImports ? {allowTypeImports: true} : {}),
});
const sdkValues = banned(SDKS, 'Only adapters import SDKs and I/O modules (types are fine).', true);
const layer = (files, patterns) => ({
  files,
  rules: {
    'no-restricted-imports': 'off',
    '@typescript-eslint/no-restricted-imports': ['error', {patterns}],
  },
});

/**
 * The layering, enforced (test/repo/layering.spec.ts shows each rule failing
 * on a violation): core/ is pure and takes only types from the ports;
 * services/ and the operators' use cases reach I/O only through ports; only
 * adapters (and the composition root and entry points) import SDKs.
 */
const layering = [
  // Pure logic: no SDKs, no I/O, no environment, no clock; only types from the ports.
  {
    ...layer(
      ['functions/core/**/*.ts'],
      [
        banned(SDKS, 'core/ is pure: no SDKs, no I/O.'),
        banned(
          [
            '**/adapters/*',
            '**/services/*',
            '**/entrypoints/*',
            '**/ops/*',
            '**/container',
            '**/config',
          ],
          'core/ depends on nothing but core/ and the types of the ports.',
        ),
        banned(['**/ports'], 'core/ takes only types from the ports (import type).', true),
      ],
    ),
    files: ['functions/core/**/*.ts'],
  },
  {
    files: ['functions/core/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {object: 'Date', property: 'now', message: 'Pass time in.'},
        {object: 'process', property: 'env', message: 'Read config in config.ts.'},
        {object: 'Math', property: 'random', message: 'Pass randomness in.'},
      ],
    },
  },
  // Use cases: core and ports only.
  layer(
    ['functions/services/**/*.ts', 'functions/ops/operator.ts', 'functions/ops/doctor/**/*.ts'],
    [
      sdkValues,
      banned(['**/adapters/*', '**/entrypoints/*'], 'Use cases reach I/O through ports.'),
    ],
  ),
  // The operators' commands build their clients through adapters, never from an SDK.
  layer(['functions/ops/*.ts'], [sdkValues]),
  // The composition root and the rest: SDK types only (the entry points own the framework).
  layer(
    ['functions/*.ts'],
    [
      banned(
        ['@google-cloud/*', 'purecloud-platform-client-v2', '@sendgrid/*'],
        'Only adapters import SDKs (types are fine).',
        true,
      ),
    ],
  ),
];

module.exports = [
  {ignores: ['build/', '**/node_modules/', '.tools/', '.local/']},
  ...gts,
  {
    files: ['.mocharc.js', '.prettierrc.js', 'eslint.config.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {module: 'writable', require: 'readonly', process: 'readonly'},
    },
  },
  {
    files: ['local/require-node.cjs', 'functions/ops/grm.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {process: 'readonly', require: 'readonly', __dirname: 'readonly'},
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_'},
      ],
      'no-console': 'error',
    },
  },
  ...layering,
  {
    // Tools that talk to people print on purpose.
    files: ['local/**/*.ts', 'bench/**/*.ts', 'functions/logger.ts'],
    rules: {'no-console': 'off'},
  },
];
module.exports.layering = layering;
