#!/usr/bin/env node
// The test command (npm test): type-check, then run every test/**/*.test.ts with uvu
// under tsx, and end with one line "N passed, N failed[, N skipped]".
// Usage: npm test [-- PATTERN]   e.g. npm test -- cpio
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pattern = process.argv[2] ?? '';
let failed = 0;
let passed = 0;

const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('type-check failed (tsc -p tsconfig.test.json)');
  failed++;
} else passed++;

const env = { ...process.env, NO_COLOR: '1' };
delete env.FORCE_COLOR;
const uvu = spawnSync(
  process.execPath,
  ['--import', 'tsx/esm', 'node_modules/uvu/bin.js', 'test', `${pattern ? `.*${pattern}.*` : ''}\\.test\\.ts$`],
  { stdio: ['ignore', 'pipe', 'inherit'], env, maxBuffer: 256 * 1024 * 1024 },
);
const out = uvu.stdout?.toString() ?? '';
process.stdout.write(out);
const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
const total = num('Total');
const ok = num('Passed');
const skipped = num('Skipped');
if (Number.isNaN(total) || Number.isNaN(ok)) {
  console.error(`uvu did not report totals (exit ${uvu.status}${uvu.signal ? `, ${uvu.signal}` : ''})`);
  failed++;
} else {
  passed += ok;
  failed += total - ok - (skipped || 0);
  if (uvu.status !== 0 && total - ok - (skipped || 0) === 0) failed++;
}
// Tests that could not run here say so on a SKIP line; count them too.
const skipLines = (out.match(/^SKIP: /gm) ?? []).length;
console.log(`${passed} passed, ${failed} failed${skipLines ? `, ${skipLines} skipped` : ''}`);
process.exit(failed ? 1 : 0);
