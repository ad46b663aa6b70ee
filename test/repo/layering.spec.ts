/**
 * The layering rules of eslint.config.js fail on a violation: each is run
 * (the config's own `layering` blocks, with the TypeScript parser) on a
 * small module placed where it would break the layering, and on the same
 * module where it is allowed.
 */
import * as assert from 'node:assert';
import * as path from 'node:path';
import {ESLint, Linter} from 'eslint';

const ROOT = path.join(__dirname, '..', '..');
// CommonJS modules without types here (the config, the parser, the plugin).
const {layering} = require(path.join(ROOT, 'eslint.config.js')) as {layering: Linter.Config[]};
const tsParser = require('@typescript-eslint/parser') as Linter.Parser;
const tsPlugin = require('@typescript-eslint/eslint-plugin') as ESLint.Plugin;

const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: {parser: tsParser},
      plugins: {'@typescript-eslint': tsPlugin},
    },
    ...layering,
  ],
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {filePath: path.join(ROOT, file)});
  return result!.messages.map(m => `${m.ruleId}: ${m.message}`);
}

const SDK_VALUE = "import {Storage} from '@google-cloud/storage';\nexport const s = Storage;\n";
const SDK_TYPE = "import type {Storage} from '@google-cloud/storage';\nexport type S = Storage;\n";

describe('layering (eslint.config.js), enforced', () => {
  it('should keep core/ pure: no SDK, no I/O module, no adapter or service, no clock', async () => {
    for (const code of [
      SDK_VALUE,
      "import {readFileSync} from 'node:fs';\nexport const r = readFileSync;\n",
      "import {GcsStore} from '../adapters/gcs';\nexport const g = GcsStore;\n",
      "import {Checker} from '../services/checker';\nexport const c = Checker;\n",
      'export const now = () => Date.now();\n',
    ])
      assert.notDeepStrictEqual(await problems('functions/core/probe.ts', code), [], code);
  });

  it('should let core/ take types from the ports, and nothing else', async () => {
    assert.deepStrictEqual(
      await problems(
        'functions/core/probe.ts',
        "import type {StoredObject} from '../ports';\nexport type S = StoredObject;\n",
      ),
      [],
    );
    const value = await problems(
      'functions/core/probe.ts',
      "import {VERIFIED_KEY} from '../ports';\nexport const k = VERIFIED_KEY;\n",
    );
    assert.match(value.join('\n'), /core\/ takes only types from the ports/);
  });

  it('should keep SDKs in the adapters: not in services, operators’ commands or the doctor', async () => {
    for (const file of [
      'functions/services/probe.ts',
      'functions/ops/probe.ts',
      'functions/ops/doctor/probe.ts',
      'functions/probe.ts',
    ]) {
      assert.match((await problems(file, SDK_VALUE)).join('\n'), /Only adapters import SDKs/, file);
      assert.deepStrictEqual(await problems(file, SDK_TYPE), [], `${file}: types are fine`);
    }
    assert.deepStrictEqual(await problems('functions/adapters/probe.ts', SDK_VALUE), []);
  });

  it('should keep the use cases off the adapters', async () => {
    const code = "import {GcsStore} from '../adapters/gcs';\nexport const g = GcsStore;\n";
    assert.match(
      (await problems('functions/services/probe.ts', code)).join('\n'),
      /Use cases reach I\/O through ports/,
    );
    assert.deepStrictEqual(await problems('functions/ops/probe.ts', code), []);
  });
});
