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
  {
    // Pure logic: no SDKs, no I/O, no environment, no clock.
    files: ['functions/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {patterns: [...SDKS, '../adapters/*', '../services/*', '../entrypoints/*']},
      ],
      'no-restricted-properties': [
        'error',
        {object: 'Date', property: 'now', message: 'Pass time in.'},
        {object: 'process', property: 'env', message: 'Read config in config.ts.'},
        {object: 'Math', property: 'random', message: 'Pass randomness in.'},
      ],
    },
  },
  {
    // Use cases: core + ports only.
    files: [
      'functions/services/**/*.ts',
      'functions/ops/operator.ts',
      'functions/ops/doctor/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {patterns: [...SDKS, '../adapters/*', '../entrypoints/*']},
      ],
    },
  },
  {
    // Tools that talk to people print on purpose.
    files: ['local/**/*.ts', 'bench/**/*.ts', 'functions/logger.ts'],
    rules: {'no-console': 'off'},
  },
];
