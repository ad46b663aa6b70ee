/**
 * The settings table (SETTINGS in functions/config.ts) is the one place a
 * setting is declared: it holds together (names once, defaults within their
 * range), parseConfig reads by it, and docs/configuration.md shows what it
 * says (`npm run docs:config` writes that part).
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import {SETTINGS, parseConfig} from '../../functions/config';
import type {Setting} from '../../functions/core/settings';
import {CONFIG_DOC, withSettings} from './config-doc';

const settings: Array<[string, Setting]> = Object.entries(SETTINGS);

describe('the settings table', () => {
  it('should name each environment variable once, with a default its own rules accept', () => {
    const names = settings.map(([, s]) => s.name);
    assert.deepStrictEqual(names, [...new Set(names)]);
    for (const [, s] of settings) {
      if (s.type === 'int')
        assert.ok(s.min <= s.default && s.default <= s.max, `${s.name} default out of range`);
      if (s.type === 'choice') assert.ok(s.values.includes(s.default), s.name);
      if (s.type === 'text' && s.default !== undefined)
        assert.strictEqual(s.check?.(s.default), undefined, s.name);
      // One table row each.
      assert.doesNotMatch(s.doc, /\||\n/, s.name);
    }
  });

  it('should be what parseConfig reads: its defaults when unset, its name in every problem', () => {
    const required = Object.fromEntries(
      settings
        .filter(([, s]) => s.type === 'emails' || (s.type === 'text' && !s.default && !s.optional))
        .map(([, s]) => [s.name, s.name === 'EXPORT_ENV' ? 'brave' : 'a@example.com']),
    );
    const config: Record<string, unknown> = parseConfig(required);
    for (const [key, s] of settings) {
      if (s.type === 'int' || s.type === 'choice' || (s.type === 'text' && s.default))
        assert.strictEqual(config[key], s.default, s.name);
      if (s.type === 'text' && s.optional) assert.strictEqual(config[key], undefined, s.name);
    }
    const wrong = Object.fromEntries(
      settings.flatMap(([, s]) =>
        s.type === 'int'
          ? [[s.name, String(s.max + 1)]]
          : s.type === 'choice'
            ? [[s.name, 'x']]
            : [],
      ),
    );
    assert.throws(
      () => parseConfig({...required, ...wrong}),
      (e: Error & {problems?: string[]}) => {
        assert.deepStrictEqual(
          e.problems?.map(p => p.split(' ')[0]),
          Object.keys(wrong),
        );
        return true;
      },
    );
  });

  it('should be shown as it is in docs/configuration.md (npm run docs:config writes it)', () => {
    const text = fs.readFileSync(CONFIG_DOC, 'utf8');
    assert.ok(
      text === withSettings(text),
      'docs/configuration.md is not current: run npm run docs:config',
    );
  });
});
