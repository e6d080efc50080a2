// Scratch disks with the real qemu-img and mkfs.ext4: one formatted base per size, made
// once (also when two callers race), and overlays that are small whatever the size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseName, createScratch, removeScratch, scratchBase } from '../../vc/disks.js';
import { needTool } from '../helpers/need.js';

needTool('qemu-img', 'qemu-utils');
needTool('mkfs.ext4', 'e2fsprogs');
needTool('dumpe2fs', 'e2fsprogs');

const dir = mkdtempSync(join(tmpdir(), 'vc-disks-'));
const GiB = 1024 * 1024 * 1024;
test.after(() => rmSync(dir, { recursive: true, force: true }));

const info = (f: string) => JSON.parse(execFileSync('qemu-img', ['info', '--output=json', f], { encoding: 'utf8' }));

test('the base: an empty ext4 filesystem of the size, in qcow2, made once', async () => {
  const [a, b] = await Promise.all([scratchBase(join(dir, 'bases'), GiB), scratchBase(join(dir, 'bases'), GiB)]);
  assert.is(a, join(dir, 'bases', baseName(GiB)));
  assert.is(b, a, 'two racing callers get the same base');
  assert.equal(readdirSync(join(dir, 'bases')), [baseName(GiB)], 'no temporary left behind');
  const i = info(a);
  assert.is(i.format, 'qcow2');
  assert.is(i['virtual-size'], GiB);
  const raw = join(dir, 'check.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', a, raw]);
  const sb = execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(sb, /Filesystem volume name:\s+scratch/);
  assert.match(sb, /Filesystem state:\s+clean/);
  rmSync(raw);
  const mtime = statSync(a).mtimeMs;
  assert.is(await scratchBase(join(dir, 'bases'), GiB), a);
  assert.is(statSync(a).mtimeMs, mtime, 'an existing base is not made again');
});

test('overlays: qcow2 backed by the base, small and made in constant time whatever the size', async () => {
  const small = await scratchBase(join(dir, 'bases'), 64 * 1024 * 1024);
  const big = await scratchBase(join(dir, 'bases'), 8 * GiB);
  for (const [base, vm] of [[small, 'a.qcow2'], [big, 'b.qcow2']] as const) {
    const t0 = Date.now();
    await createScratch(base, join(dir, vm));
    const ms = Date.now() - t0;
    const i = info(join(dir, vm));
    assert.is(i['backing-filename'], base);
    assert.is(i['backing-filename-format'], 'qcow2');
    assert.ok(statSync(join(dir, vm)).size < 1024 * 1024, `${vm} is ${statSync(join(dir, vm)).size} bytes`);
    assert.ok(ms < 5000, `${vm} took ${ms} ms`);
  }
  await removeScratch(join(dir, 'a.qcow2'));
  await removeScratch(join(dir, 'a.qcow2'));
  assert.not.ok(existsSync(join(dir, 'a.qcow2')));
  assert.ok(existsSync(small), 'the base stays');
});

test('refusals: odd sizes and a relative base', async () => {
  try {
    await scratchBase(dir, 1000);
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /at least 16 MiB/);
  }
  try {
    await createScratch('bases/x.qcow2', join(dir, 'c.qcow2'));
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /must be an absolute path/);
  }
});

test.run();
