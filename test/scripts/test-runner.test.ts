// The test command itself (scripts/test.mjs), run on planted test folders: strict
// skips under CI, the allow-list, streamed output, durations, timeouts and crashes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

const work = mkdtempSync(join(tmpdir(), 'dl-runner-'));
const reason = `planted ${randomUUID()}`;
const UBUNTU = 'build-image ubuntu: http://archive.ubuntu.com/ubuntu/dists/noble/Release did not answer from this machine';

/** A folder of uvu test files that the runner can run (ESM, with the project's node_modules). */
function plant(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(projectRoot(), 'node_modules'), join(dir, 'node_modules'));
  for (const [file, body] of Object.entries(files)) writeFileSync(join(dir, file), `import { test } from 'uvu';\n${body}\ntest.run();\n`);
  return dir;
}

const good = plant('good', {
  'pass.test.ts': `import { existsSync } from 'node:fs';
test('passes, inside a run dir that exists', () => {
  console.log('run dir: ' + process.env.DISKLESS_TEST_RUN_DIR);
  if (!existsSync(process.env.DISKLESS_TEST_RUN_DIR ?? '/nonexistent')) throw new Error('no run dir');
});`,
  'planted-skip.test.ts': `test('skips', () => console.log(${JSON.stringify(`SKIP: ${reason}`)}));`,
  'allowed-skip.test.ts': `test('skips for an allowed reason', () => console.log(${JSON.stringify(`SKIP: ${UBUNTU}`)}));`,
  'slow.test.ts': `test('takes a while', async () => {
  console.log('slow: started');
  await new Promise((r) => setTimeout(r, 1500));
});`,
});
const broken = plant('broken', {
  'crash.test.ts': `throw new Error('planted crash');`,
  'hang.test.ts': `test('hangs', () => { console.log('hang: started'); return new Promise(() => setInterval(() => {}, 1000)); });`,
});

interface Run {
  code: number | null;
  lines: { at: number; text: string }[];
  out: string;
  last: string;
  endedAt: number;
}

/** Run `node scripts/test.mjs --root <dir> [pattern]`, noting when each stdout line arrived. */
function runner(root: string, env: Record<string, string | undefined>, pattern?: string): Promise<Run> {
  const full: Record<string, string | undefined> = { ...process.env, ...env };
  for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
  const child = spawn(process.execPath, ['scripts/test.mjs', '--root', root, ...(pattern ? [pattern] : [])], { cwd: projectRoot(), env: full as NodeJS.ProcessEnv });
  const lines: Run['lines'] = [];
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at: Date.now(), text });
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const texts = lines.map((l) => l.text).filter((t) => t.trim());
      resolve({ code, lines, out: lines.map((l) => l.text).join('\n'), last: texts[texts.length - 1] ?? '', endedAt: Date.now() });
    }),
  );
}

const indexOf = (r: Run, re: RegExp) => r.lines.findIndex((l) => re.test(l.text));

test('CI=true: a planted skip counts as failed and the run fails', async () => {
  const r = await runner(good, { CI: 'true' });
  assert.is.not(r.code, 0, r.out);
  assert.is(r.last, '2 passed, 1 failed, 2 skipped', r.out);
  assert.match(r.out, `FAILED   planted-skip.test.ts: ${reason}`);
  assert.match(r.out, /allowed  allowed-skip\.test\.ts: build-image ubuntu: .* \(the Ubuntu archive did not answer/);
  assert.match(r.out, /Failed: planted-skip\.test\.ts$/m);
});

test('CI=true: only the allow-listed skip: the run passes', async () => {
  const r = await runner(good, { CI: 'true' }, '^(?!planted)');
  assert.is(r.code, 0, r.out);
  assert.is(r.last, '2 passed, 0 failed, 1 skipped', r.out);
  assert.not.match(r.out, 'planted-skip');
});

test('without CI: skips are listed and counted, not failed; output streams in order; durations at the end', async () => {
  const r = await runner(good, { CI: undefined });
  assert.is(r.code, 0, r.out);
  assert.is(r.last, '2 passed, 0 failed, 2 skipped', r.out);
  assert.match(r.out, `skipped  planted-skip.test.ts: ${reason}`);
  const order = ['allowed-skip', 'pass', 'planted-skip', 'slow'].map((f) => indexOf(r, new RegExp(`^▶ ${f}\\.test\\.ts$`)));
  assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1]!)), `files in order: ${order}`);
  const started = indexOf(r, /slow: started/);
  assert.ok(started > order[3]!, 'the file banner comes before its output');
  assert.ok(r.endedAt - r.lines[started]!.at >= 1000, 'the slow file printed 1.5 s before the run ended, and it showed at once');
  const table = r.out.slice(r.out.indexOf('Durations'));
  for (const f of ['pass', 'planted-skip', 'allowed-skip']) assert.match(table, new RegExp(`\\d+\\.\\d s  ✓ ${f}\\.test\\.ts`));
  const slow = Number(/([\d.]+) s  ✓ slow\.test\.ts/.exec(table)?.[1]);
  assert.ok(slow >= 1.5, `slow file took ${slow} s`);
  assert.match(table, /[\d.]+ s  total/);
  assert.ok(table.indexOf('slow.test.ts') < table.indexOf('pass.test.ts'), 'slowest first');
  const runDir = /^run dir: (\S+)$/m.exec(r.out)?.[1];
  assert.ok(runDir && !existsSync(runDir), `the run dir ${runDir} is removed at the end`);
});

test('a crashing file and a file killed by the per-file timeout count as failed and say so', async () => {
  const r = await runner(broken, { CI: undefined, DISKLESS_TEST_FILE_TIMEOUT: '2' });
  assert.is.not(r.code, 0, r.out);
  assert.is(r.last, '0 passed, 2 failed', r.out);
  assert.match(r.out, /✘ crash\.test\.ts: ended without uvu totals \(exit 1\)/);
  assert.match(r.out, /✘ hang\.test\.ts: killed after 2 s \(DISKLESS_TEST_FILE_TIMEOUT\)/);
  assert.ok(indexOf(r, /^▶ hang\.test\.ts$/) < indexOf(r, /hang: started/), 'where it was when killed');
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
