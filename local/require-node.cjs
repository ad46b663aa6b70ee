// Stops a run at once, in one line, on a Node.js other than 22 (the Cloud
// Functions runtime this project targets). Plain CommonJS, so any Node can
// run it: it is the first thing `npm test` and `npm run demo` do.
'use strict';
const major = Number(process.versions.node.split('.')[0]);
if (major !== 22) {
  process.stderr.write(
    `genesys-recording-migrator needs Node.js 22, this is ${process.version}: ` +
      '`nvm install 22` (the repository has an .nvmrc), or ' +
      '`npm i --prefix .tools node@22 && export PATH="$PWD/.tools/node_modules/.bin:$PATH"`\n',
  );
  process.exit(1);
}
