// Runs first in `npm test`, `npm run demo` and the other local commands: the
// project runs on Node.js 22 (the Cloud Functions runtime it deploys to,
// infra/functions.tf), whatever Node ran `npm ci`. On another Node it brings
// Node 22 itself, from the npm registry (the `node` package), into .tools/,
// and links it as node_modules/.bin/node: npm puts node_modules/.bin first on
// the PATH of every script it runs, so the command that follows, and every
// process it starts, runs on Node 22. Nothing of this reaches the functions'
// build (the `node` package is no dependency of the project). Plain CommonJS,
// so any Node can run it.
'use strict';
const {spawnSync} = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const NODE22 = path.join(TOOLS, 'node_modules', 'node', 'bin', 'node');
const LINK = path.join(ROOT, 'node_modules', '.bin', 'node');

function major(version) {
  return Number(String(version).replace(/^v/, '').split('.')[0]);
}

function versionOf(binary) {
  const r = spawnSync(binary, ['--version'], {encoding: 'utf8'});
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function fail(why) {
  process.stderr.write(
    `genesys-recording-migrator needs Node.js 22, this is ${process.version}, and ${why}: ` +
      '`nvm install 22` (the repository has an .nvmrc), or ' +
      '`npm i --prefix .tools node@22 && export PATH="$PWD/.tools/node_modules/.bin:$PATH"`\n',
  );
  process.exit(1);
}

if (major(process.version) !== 22) {
  if (!fs.existsSync(path.join(ROOT, 'node_modules'))) fail('`npm ci` has not run yet');
  if (major(versionOf(NODE22)) !== 22) {
    process.stderr.write(
      `genesys-recording-migrator runs on Node.js 22, this is ${process.version}: ` +
        'installing Node 22 from the npm registry into .tools/ (once)\n',
    );
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(
      npm,
      ['install', '--prefix', TOOLS, '--no-audit', '--no-fund', '--loglevel=error', 'node@22'],
      {stdio: ['ignore', 'ignore', 'inherit']},
    );
    if (r.status !== 0 || major(versionOf(NODE22)) !== 22)
      fail('installing it from the npm registry failed');
  }
  fs.mkdirSync(path.dirname(LINK), {recursive: true});
  fs.rmSync(LINK, {force: true});
  fs.symlinkSync(NODE22, LINK);
  process.stderr.write(
    `genesys-recording-migrator: running on Node ${versionOf(NODE22)} from .tools/ ` +
      `(this shell has ${process.version})\n`,
  );
}
