#!/usr/bin/env node
// `npx grm`: runs functions/ops/main.ts through tsx (a development
// dependency: grm runs from a checkout after `npm ci`).
'use strict';
require('tsx/cjs');
require('./main.ts');
