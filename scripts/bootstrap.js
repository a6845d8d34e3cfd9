#!/usr/bin/env node
// Makes `npm start` and `npm test` work on a fresh clone: installs the locked
// dependencies when node_modules is missing or older than the lock file, then
// type-checks and compiles src/ into dist/. Plain JavaScript on purpose: it
// runs before TypeScript is installed.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const mtime = (p) => { try { return fs.statSync(path.join(root, p)).mtimeMs; } catch { return 0; } };

if (mtime('node_modules/.package-lock.json') < mtime('package-lock.json')) {
  process.stderr.write('school-dns: installing dependencies (npm ci)...\n');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
if (process.env.npm_lifecycle_event === 'pretest') {
  run(process.execPath, [tsc, '-p', 'tsconfig.test.json']);
}
