// The squashfs root image from the real mksquashfs, as build-image's root-image step
// runs it: its percentage comes through, rising, with an ETA, before the end; the image
// lists every file; a failure carries mksquashfs's own message; and a cancel ends it,
// leaving no mksquashfs (nor the `script` around it) behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { rootImage } from '../../builders/steps/rootimage.js';
import { ROOT_IMAGE_PROGRESS } from '../../builders/progress/index.js';
import type { Progress } from '../../builders/progress/progress.js';
import type { BuildContext } from '../../builders/context.js';
import { runSteps } from '../../lib/progress.js';
import { memoryLogger } from '../../lib/log.js';
import { CommandError, run } from '../../lib/run.js';
import { alive, processesNaming } from '../helpers/procs.js';

const work = mkdtempSync(join(tmpdir(), 'formats-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failure = (p: Promise<unknown>) => p.then(() => assert.unreachable('should have failed'), (e: Error) => e) as Promise<Error>;

/** Random lowercase letters: zstd has work to do (random bytes it would store as they are, at once). */
function letters(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (b[i]! % 26);
  return b;
}

/**
 * Per core mksquashfs compresses on, 32 folders, each a 1 MiB file (a block, at zstd's
 * level 15 a few seconds in all) and 40 small ones: on 2 cores 2624 files, 73 MB. Its
 * count grows folder by folder, so its percentage rises all along. Returns the root and its files.
 */
function makeTree(): { root: string; files: string[] } {
  const root = join(work, 'root');
  const files: string[] = [];
  for (let d = 0; d < 32 * Math.min(availableParallelism(), 8); d++) {
    const dir = `d${String(d).padStart(3, '0')}`;
    mkdirSync(join(root, dir), { recursive: true });
    files.push(`${dir}/big`);
    for (let f = 0; f < 40; f++) files.push(`${dir}/f${f}`);
  }
  files.forEach((f, i) => writeFileSync(join(root, f), letters(f.endsWith('/big') ? 1 << 20 : 1024 + ((i * 7919) % 4096))));
  return { root, files };
}
const tree = makeTree();

test('the root-image step: mksquashfs\'s percentage rises below 100 with an ETA before the end, and the image lists every file', async () => {
  const outDir = join(work, 'out');
  mkdirSync(outDir);
  const log = memoryLogger();
  const ctx = { format: 'squashfs', root: tree.root, outDir, log, signal: new AbortController().signal, opts: {} } as unknown as BuildContext;
  const seen: Progress[] = [];
  const shown: string[] = [];
  await runSteps(
    [
      {
        name: rootImage.name,
        describe: rootImage.describe,
        run: (c: BuildContext, report) => rootImage.run(c, { rootInputs: '' }, { ...report, progress: (p) => (seen.push(p), report.progress(p)) }).then(() => undefined),
      },
    ],
    ctx,
    { log, status: { show: (l) => shown.push(l), clear: () => undefined } },
  );
  const percents = seen.map((p) => Number(/^(\d+)%/.exec(p.text)?.[1]));
  const below = percents.filter((p) => p > 0 && p < 100);
  assert.ok(new Set(below).size >= 3, `distinct percentages below 100: ${percents.join(' ')}`);
  assert.equal(percents, [...percents].sort((a, b) => a - b), `they only rise: ${percents.join(' ')}`);
  assert.is(percents.at(-1), 100);
  assert.ok(shown.some((l) => /^\[1\/1\] root-image: \d\d?% \(\d+\/\d+ blocks\), ETA \d+s$/.test(l)), shown.join('\n'));
  assert.ok(log.lines.some((l) => /^ +squashfs, zstd, [\d.]+ MB, \d+ inodes$/.test(l)), log.lines.join('\n'));
  assert.not.ok(log.lines.some((l) => /^debug: root-image: \[/.test(l)), 'the bar is progress, not a --verbose detail line');
  const listed = (await run(['unsquashfs', '-l', join(outDir, 'root.squashfs')])).stdout.split('\n').map((l) => l.replace(/^squashfs-root\//, ''));
  const files = new Set(tree.files);
  assert.equal(listed.filter((l) => files.has(l)).sort(), [...tree.files].sort());
});

test('a failed mksquashfs fails the build with its own message', async () => {
  const err = await failure(ROOT_FORMATS.squashfs.build(join(work, 'no-such-root'), join(work, 'failed.squashfs'), {}));
  assert.instance(err, CommandError);
  assert.is((err as CommandError).exitCode, 1);
  assert.match(err.message, /^command exited with code 1: mksquashfs \S+\/no-such-root \S+\/failed\.squashfs -noappend/);
  assert.match(err.message, /--- stderr \(last lines\) ---\nCannot stat source directory "\S+\/no-such-root" because No such file or directory$/);
});

test('cancelled part way: the build fails as cancelled and no mksquashfs or script is left running', async () => {
  const out = join(work, 'cancelled.squashfs');
  const ac = new AbortController();
  const meter = await ROOT_IMAGE_PROGRESS.squashfs(tree.root);
  let running: { pid: number; argv: string[] }[] = [];
  const onLine = (l: string) => {
    const p = meter(l);
    if (!ac.signal.aborted && p?.fraction !== undefined && p.fraction >= 0.1 && p.fraction < 1) {
      running = processesNaming(out);
      ac.abort();
    }
  };
  const err = await failure(ROOT_FORMATS.squashfs.build(tree.root, out, { onLine, signal: ac.signal }));
  assert.match(err.message, /^command was cancelled: mksquashfs /);
  assert.equal(running.map((p) => p.argv[0]!.split('/').pop()).sort(), ['mksquashfs', 'script'], JSON.stringify(running));
  for (let i = 0; i < 60 && running.some((p) => alive(p.pid)); i++) await sleep(50);
  assert.equal(processesNaming(out), [], 'left running');
});

test.run();
