#!/usr/bin/env node
'use strict';
// The CLI is bundled into dist/ by `npm run build` (run by `npm ci` through the prepare script).
const path = require('path');
const fs = require('fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('joules: dist/cli.js is missing; run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(cli);
