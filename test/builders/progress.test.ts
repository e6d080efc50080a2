// Build progress read from the tools' own output, recorded from real runs
// (test/fixtures/progress/README.md): mmdebstrap --verbose's apt and dpkg lines,
// mksquashfs's bar (on a pipe and in a terminal), mkfs.erofs's "Processing" lines;
// and how a step shows it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { projectRoot } from '../../lib/paths.js';
import { APT_START, aptBytes, describeApt, feedApt, type AptState } from '../../builders/progress/apt.js';
import { describeMksquashfs, erofsProcessing, mksquashfsFrame, stripTerminal } from '../../builders/progress/squashfs.js';
import { countEntries, ROOT_IMAGE_PROGRESS } from '../../builders/progress/index.js';
import type { Progress } from '../../builders/progress/progress.js';

const fixture = (name: string) => readFileSync(join(projectRoot(), 'test/fixtures/progress', name));
/** Lines as lib/run.ts hands them on: split at \n, \r\n or \r, blank ones dropped. */
const runLines = (text: string) => text.split(/\r?\n|\r/).filter((l) => l.trim());

test('apt sizes in SI units', () => {
  assert.is(aptBytes('6924', 'B'), 6924);
  assert.is(aptBytes('37.6', 'kB'), 37_600);
  assert.is(aptBytes('95.8', 'MB'), 95_800_000);
  assert.is(aptBytes('1,5', 'GB'), 1_500_000_000);
});

test('mmdebstrap --verbose (recorded): packages done of total, bytes downloaded, a fraction once the total is final', () => {
  let s: AptState = APT_START;
  const seen: Progress[] = [];
  for (const l of runLines(fixture('mmdebstrap-bookworm.txt').toString())) {
    const next = feedApt(s, l);
    const p = next === s ? undefined : describeApt(next);
    if (p) seen.push(p);
    s = next;
  }
  // 69 essential packages, then 74 more, each unpacked and set up once.
  assert.equal({ total: s.total, done: s.done, unpacked: s.unpacked, final: s.final }, { total: 143, done: 143, unpacked: 143, final: true });
  // Every Get: the indices (9423 kB) and the packages ("Need to get" 29.7 MB, then 95.8 MB), to apt's rounding.
  assert.ok(Math.abs(s.bytes - (9.423e6 + 29.7e6 + 95.8e6)) < 0.2e6, `bytes ${s.bytes}`);
  assert.is(seen.at(-1)!.text, '143/143 packages, 134.9 MB downloaded');
  assert.is(seen.at(-1)!.fraction, 1);
  // Before the last apt run's count, the total may still grow: "+", and no fraction (so no ETA).
  const essential = seen.filter((p) => p.text.startsWith('69/69+ packages'));
  assert.ok(essential.length > 0, 'the essential packages are counted against 69+');
  assert.ok(essential.every((p) => p.fraction === undefined));
  assert.ok(seen.some((p) => /^\d+\/143 packages/.test(p.text) && p.fraction! < 1), 'a count of 143 with a share below 1');
  const fractions = seen.map((p) => p.fraction).filter((f): f is number => f !== undefined);
  assert.ok(fractions.length > 100);
  assert.equal(fractions, [...fractions].sort((a, b) => a - b), 'the share only grows');
  assert.ok(fractions[0]! >= 138 / 286 - 1e-9, 'the 69 essential packages (twice 69 of 286 halves) are counted done when the total is known');
  assert.is(seen.filter((p) => /^[\d.]+ MB downloaded$/.test(p.text)).at(-1)?.text, '9.4 MB downloaded', 'apt-get update: bytes, no count yet');
});

test('a repeated count line in one phase is counted once', () => {
  let s = feedApt(APT_START, 'I: installing remaining packages inside the chroot...');
  s = feedApt(s, '0 upgraded, 74 newly installed, 0 to remove and 0 not upgraded.');
  s = feedApt(s, '0 upgraded, 74 newly installed, 0 to remove and 0 not upgraded.');
  assert.is(s.total, 74);
  assert.ok(s.final);
  assert.is(feedApt(s, 'Setting up'), s, 'no package name: not a dpkg line');
});

test('mksquashfs on a pipe (recorded): a frame only at a count that is a multiple of 100, and at the end', () => {
  const frames = runLines(fixture('mksquashfs.txt').toString()).map(mksquashfsFrame).filter((f) => f !== undefined);
  assert.equal(frames, [
    { done: 0, total: 5731, percent: 0 },
    { done: 2400, total: 13069, percent: 18 },
    { done: 9900, total: 13069, percent: 75 },
    { done: 13069, total: 13069, percent: 100 },
  ]);
  assert.equal(describeMksquashfs(frames[1]!), { text: '18% (2400/13069 blocks)', fraction: 2400 / 13069 });
  assert.is(mksquashfsFrame('Unrecognised xattr prefix system.posix_acl_access'), undefined);
});

test('mksquashfs in a terminal (recorded): a frame every 250 ms, the share rising to 1 as the count grows', () => {
  const lines = runLines(gunzipSync(fixture('mksquashfs-pty.txt.gz')).toString());
  const frames = lines.map(mksquashfsFrame);
  assert.is(frames.length, 716, '204 s of frames');
  assert.ok(frames.every((f) => f !== undefined), 'nothing but frames (the terminal ends lines with \\r\\n)');
  const seen = frames.map((f) => describeMksquashfs(f!));
  // The total grows while mksquashfs scans the root, then stays.
  assert.equal([...new Set(frames.map((f) => f!.total))], [2727, 6103, 9520, 12263, 12942]);
  assert.equal(seen.at(-1), { text: '100% (12942/12942 blocks)', fraction: 1 });
  const final = seen.filter((_, i) => frames[i]!.total === 12942).map((p) => p.fraction!);
  assert.equal(final, [...final].sort((a, b) => a - b), 'the share only grows');
  const percents = new Set(frames.map((f) => f!.percent).filter((p) => p > 0 && p < 100));
  assert.ok(percents.size >= 30, `${percents.size} distinct percentages between 0 and 100`);
});

test('mkfs.erofs (recorded): ESC[K stripped, one entry per Processing line, over the entries of the root', async () => {
  const lines = runLines(gunzipSync(fixture('mkfs-erofs.txt.gz')).toString());
  assert.is(lines[0], 'mkfs.erofs 1.5');
  assert.is(stripTerminal(lines[1]!), 'Processing bin ...');
  assert.is(erofsProcessing(lines[1]!), 'bin');
  assert.is(erofsProcessing(lines.at(-1)!), undefined, `${lines.at(-1)}`);
  assert.is(lines.filter((l) => erofsProcessing(l) !== undefined).length, 16410, 'one line per entry of the recorded root');
  // The meter, over a root of that many entries.
  const dir = mkdtempSync(join(tmpdir(), 'dl-erofs-'));
  try {
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/b/f'), 'x');
    symlinkSync('a', join(dir, 'l'));
    assert.is(await countEntries(dir), 4, 'a, a/b, a/b/f, l (not followed)');
    const meter = await ROOT_IMAGE_PROGRESS.erofs(dir);
    const got = lines.slice(0, 4).map(meter);
    assert.equal(got, [undefined, { text: '25% (1/4 entries)', fraction: 0.25 }, { text: '50% (2/4 entries)', fraction: 0.5 }, { text: '75% (3/4 entries)', fraction: 0.75 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
