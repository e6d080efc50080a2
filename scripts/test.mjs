#!/usr/bin/env node
// The test command (npm test): type-check, then run each test/**/*.test.ts as its own
// process (`node --import tsx/esm <file>`, uvu's test.run()), streaming its output, and
// end with durations, skips and one line "N passed, N failed[, N skipped]".
// Usage: npm test [-- PATTERN] [-- --root DIR]     e.g. npm test -- cpio
//   PATTERN               a regex on each file's path under the test root
//   --root DIR            another test root (DISKLESS_TEST_ROOT); no type-check then
//   CI                    set: a SKIP line fails unless scripts/allowed-skips.mjs allows it
//   DISKLESS_TEST_FILE_TIMEOUT   seconds one file may take (default 1200), then it is killed
// Each run gets a fresh DISKLESS_TEST_RUN_DIR (shared by its files, removed at the end).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedSkip } from './allowed-skips.mjs';

const project = resolve(fileURLToPath(new URL('..', import.meta.url)));
const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
const root = resolve(rootAt >= 0 ? argv.splice(rootAt, 2)[1] : (process.env.DISKLESS_TEST_ROOT ?? join(project, 'test')));
const pattern = new RegExp(argv[0] ?? '');
const strict = !!process.env.CI;
const timeoutS = Number(process.env.DISKLESS_TEST_FILE_TIMEOUT ?? 1200);
const runDir = mkdtempSync(join(tmpdir(), 'diskless-run-'));
const env = { ...process.env, NO_COLOR: '1', DISKLESS_TEST_RUN_DIR: runDir };
delete env.FORCE_COLOR;

/** @type {{ name: string, seconds: number, passed: number, failed: number, problem?: string }[]} */
const results = [];
/** @type {{ file: string, reason: string, allowed?: string }[]} */
const skips = [];
let current; // the running child, to stop on Ctrl-C

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.test\.ts$/.test(e.name))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .filter((f) => pattern.test(relative(root, f)))
    .sort();
}

function typeCheck() {
  console.log('▶ type-check (tsc -p tsconfig.test.json)');
  const started = Date.now();
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { cwd: project, stdio: 'inherit' });
  const ok = tsc.status === 0;
  if (!ok) console.error('type-check failed (tsc -p tsconfig.test.json)');
  results.push({ name: 'type-check', seconds: (Date.now() - started) / 1000, passed: ok ? 1 : 0, failed: ok ? 0 : 1, problem: ok ? undefined : 'tsc failed' });
}

const killGroup = (child, signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
};

/** Run one file, passing its output through as it comes; resolve with its stdout and exit. */
function runFile(file) {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx/esm', file], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    let out = '';
    let timedOut = false;
    let finished = false;
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      out += d;
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 10_000).unref();
    }, timeoutS * 1000);
    const finish = (code, signal) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      current = undefined;
      done({ out, code, signal, timedOut });
    };
    child.on('error', (err) => {
      out += `\n${err.message}\n`;
      finish(1, null);
    });
    child.on('exit', (code, signal) => {
      // Something the file started may hold its pipes open: give them a moment, then end it.
      setTimeout(() => {
        killGroup(child, 'SIGKILL');
        finish(code, signal);
      }, 5000).unref();
      child.on('close', () => finish(code, signal));
    });
  });
}

/** Count one file from uvu's totals, its SKIP lines and how it ended. */
function tally(name, { out, code, signal, timedOut }, seconds) {
  const r = { name, seconds, passed: 0, failed: 0 };
  const last = (label) => [...out.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))].pop()?.[1];
  const total = last('Total');
  const ok = last('Passed');
  const uvuSkipped = Number(last('Skipped') ?? 0);
  // uvu writes its pass marks ("• ") without a newline, so a SKIP line may follow some.
  const lines = [...out.matchAll(/^(?:.*?[•✘] )?SKIP: (.*)$/gm)].map((m) => ({ file: name, reason: m[1].trim(), allowed: allowedSkip(m[1].trim())?.why }));
  const mine = uvuSkipped ? [...lines, { file: name, reason: `${uvuSkipped} test(s) left out by test.skip or test.only` }] : lines;
  skips.push(...mine);
  if (timedOut) r.problem = `killed after ${timeoutS} s (DISKLESS_TEST_FILE_TIMEOUT)`;
  else if (total === undefined || ok === undefined) r.problem = `ended without uvu totals (exit ${code ?? signal})`;
  else {
    r.passed = Math.max(0, Number(ok) - lines.length); // a test that skipped did not pass
    r.failed = Number(total) - Number(ok);
    if (strict) r.failed += mine.filter((s) => !s.allowed).length;
    if (code !== 0 && r.failed === 0) r.problem = `exited ${code ?? signal} with no failing test`;
  }
  if (r.problem) {
    r.failed++;
    console.log(`✘ ${name}: ${r.problem}`);
  }
  results.push(r);
}

function summary() {
  const pad = (s, n) => String(s).padStart(n);
  console.log('\nDurations (slowest first):');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
    console.log(`  ${pad(r.seconds.toFixed(1), 8)} s  ${r.failed ? '✘' : '✓'} ${r.name}${r.problem ? `  (${r.problem})` : ''}`);
  }
  console.log(`  ${pad(results.reduce((s, r) => s + r.seconds, 0).toFixed(1), 8)} s  total`);
  if (skips.length) {
    console.log(`\nSkips (${strict ? 'CI: each one not on scripts/allowed-skips.mjs fails' : 'set CI to fail those not on scripts/allowed-skips.mjs'}):`);
    for (const s of skips) console.log(`  ${s.allowed ? 'allowed' : strict ? 'FAILED ' : 'skipped'}  ${s.file}: ${s.reason}${s.allowed ? `  (${s.allowed})` : ''}`);
  }
  const failedFiles = results.filter((r) => r.failed);
  if (failedFiles.length) console.log(`\nFailed: ${failedFiles.map((r) => r.name).join(', ')}`);
}

function cleanUp() {
  rmSync(runDir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) killGroup(current, 'SIGKILL');
    cleanUp();
    console.log(`\ninterrupted (${sig})`);
    process.exit(130);
  });
}

if (root === join(project, 'test')) typeCheck();
// Files under the project are named from its root, ready for `node --import tsx/esm <file>`.
const shown = (file) => (relative(project, root).startsWith('..') ? relative(root, file) : relative(project, file));
for (const file of testFiles(root)) {
  const name = shown(file);
  console.log(`▶ ${name}`);
  const started = Date.now();
  const ended = await runFile(file);
  tally(name, ended, (Date.now() - started) / 1000);
}
summary();
cleanUp();
const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
const skipped = skips.length;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
