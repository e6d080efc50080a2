// The run's shared debian image (built-image.ts), without building one: a run folder
// that already holds the build is handed out as hard links, a failed build is
// remembered, and the build lock is waited for, or taken over from a dead holder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtDebian, builtXen, DEBIAN, XEN } from './built-image.js';

const work = mkdtempSync(join(tmpdir(), 'dl-built-'));
const run = join(work, 'run');
const shared = join(run, 'debian', 'images', DEBIAN);
mkdirSync(join(shared, 'v1'), { recursive: true });
writeFileSync(join(shared, 'v1', 'root.squashfs'), 'root');
symlinkSync('v1', join(shared, 'current'));
writeFileSync(join(shared, '.lock'), '1');
writeFileSync(join(run, 'debian', 'build.log'), 'the build output\n');
process.env.DISKLESS_TEST_RUN_DIR = run;

/** builtDebian() in another process (it blocks while it waits); resolves with its output and how long it took. */
function inChild(images: string): Promise<{ out: string; ms: number }> {
  const script = join(work, `child-${Date.now()}.mts`);
  const helper = fileURLToPath(new URL('./built-image.ts', import.meta.url));
  writeFileSync(script, `import { builtDebian } from ${JSON.stringify(helper)};\nconsole.log(JSON.stringify(builtDebian(${JSON.stringify(images)})));\n`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx/esm', script], { env: process.env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve) => child.on('close', () => resolve({ out, ms: Date.now() - started })));
}

test('the built image is handed out as hard links with its output, dot entries left out', () => {
  const images = join(work, 'a');
  const b = builtDebian(images);
  assert.equal(b, { log: 'the build output\n', version: 'v1' });
  assert.equal(readdirSync(join(images, DEBIAN)).sort(), ['current', 'v1']);
  assert.is(statSync(join(images, DEBIAN, 'v1', 'root.squashfs')).nlink, 2, 'a hard link to the shared file');
  assert.not.ok(existsSync(join(run, 'build.lock')), 'lock released');
});

test('the build lock: a live holder is waited for; a dead one is taken over', async () => {
  const lock = join(run, 'build.lock');
  writeFileSync(lock, String(process.pid));
  setTimeout(() => rmSync(lock, { force: true }), 1500);
  const waited = await inChild(join(work, 'b'));
  assert.match(waited.out, /"version":"v1"/);
  assert.ok(waited.ms >= 1500, `waited ${waited.ms} ms for the holder`);

  const dead = spawnSync('true').pid; // reaped: no process has this pid now
  writeFileSync(lock, String(dead));
  const took = await inChild(join(work, 'c'));
  assert.match(took.out, /"version":"v1"/);
  assert.not.ok(existsSync(lock));
});

test('a failed build is remembered: later callers fail at once with its output', () => {
  writeFileSync(join(run, 'debian', 'build.failed'), 'build-image debian exited 1:\nno network');
  assert.throws(() => builtDebian(join(work, 'd')), /failed earlier:\nbuild-image debian exited 1:\nno network/);
});

test('the xen-dom0 build is shared apart from the plain one, under its own image name', () => {
  const xen = join(run, 'xen', 'images', XEN);
  mkdirSync(join(xen, 'v2'), { recursive: true });
  writeFileSync(join(xen, 'v2', 'xen'), 'hypervisor');
  symlinkSync('v2', join(xen, 'current'));
  writeFileSync(join(run, 'xen', 'build.log'), 'the xen build output\n');
  const images = join(work, 'e');
  assert.equal(builtXen(images), { log: 'the xen build output\n', version: 'v2' });
  assert.is(statSync(join(images, XEN, 'v2', 'xen')).nlink, 2);
  assert.not.ok(existsSync(join(images, DEBIAN)), 'the plain image is not handed out with it');
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
