// A cached bootstrap (mmdebstrap, faked on PATH to unpack the tiny root) becomes the
// build's root through an overlay: the cache is never written, no mount outlives a
// build that passes, fails or is interrupted (a SIGKILLed one's is swept by the next),
// and the root image is the same as from the copy used where overlayfs cannot mount.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../builders/pipeline.js';
import { memoryLogger } from '../../lib/log.js';
import { removeTree } from '../../rootfs/remove.js';
import { defaultOverlaysDir, projectRoot } from '../../lib/paths.js';
import { fakeBin, makeFakeRootTar, makeFakeTemplates } from '../helpers/fakeroot.js';
import { mountsUnder, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-ovl-'));
const tarball = join(work, 'root.tar');
const cacheDir = join(work, 'cache');
const templatesDir = makeFakeTemplates({ bootstrap: { method: 'mmdebstrap', suite: 'test', sources: [{ uri: 'file:///fake', suites: ['test'], components: ['main'] }] } });
// The target is the argument after the suite.
const mmdebstrap = fakeBin({
  mmdebstrap: `[ "$1" = --version ] && { echo 'mmdebstrap 1.0-fake'; exit 0; }\nwhile [ "$1" != test ]; do shift; done\nmkdir -p "$2" && tar -xf '${tarball}' -C "$2"`,
});
const PATH = `${mmdebstrap}:${process.env.PATH}`;
const IMAGE = 'fake-test-amd64';
const OVERLAY = 'root: an overlay over the cached bootstrap';

async function build(out: string, o: { path?: string; noCache?: boolean } = {}) {
  const log = memoryLogger();
  const old = process.env.PATH;
  process.env.PATH = o.path ?? PATH;
  try {
    const res = await buildImage({ distro: 'fake', templatesDir, overlaysDir: defaultOverlaysDir(), outDir: out, cacheDir, noCache: o.noCache }, { log });
    return { res, log, manifest: JSON.parse(readFileSync(join(res.dir, 'manifest.json'), 'utf8')) };
  } finally {
    process.env.PATH = old;
  }
}

function unsquash(dir: string, to: string): string[] {
  execFileSync('unsquashfs', ['-q', '-d', to, join(dir, 'root.squashfs')]);
  return snapshot(to, { mtimes: false });
}

const cacheEntry = () => join(cacheDir, 'bootstrap', execFileSync('ls', [join(cacheDir, 'bootstrap')]).toString().trim());

test.before(() => makeFakeRootTar(tarball));
test.after(async () => {
  await removeTree(work); // detaches any mount a failed assertion left

  rmSync(templatesDir, { recursive: true, force: true });
});

test('the cached root is mounted as an overlay, never written, and gives the image the copy gives', async () => {
  const first = await build(join(work, 'out1'));
  assert.ok(first.log.lines.some((l) => l.includes(OVERLAY)), first.log.lines.join('\n'));
  assert.is(first.manifest.bootstrap.cached, false);
  const cached = snapshot(cacheEntry());
  const again = await build(join(work, 'out2'));
  assert.ok(again.log.lines.some((l) => l.includes(OVERLAY)), again.log.lines.join('\n'));
  assert.is(again.manifest.bootstrap.cached, true);
  const failingMount = fakeBin({ mount: 'echo "mount: unknown filesystem type overlay" >&2; exit 32' });
  const copied = await build(join(work, 'out3'), { path: `${failingMount}:${PATH}` });
  assert.ok(copied.log.lines.some((l) => /root: a copy of the cached bootstrap \(no overlay: .*unknown filesystem type overlay/.test(l)), copied.log.lines.join('\n'));
  assert.equal(snapshot(cacheEntry()), cached, 'the cache is untouched');
  for (const out of ['out1', 'out2', 'out3']) assert.equal(mountsUnder(join(work, out)), [], `no mount left in ${out}`);
  assert.is(again.manifest.rootInputs, copied.manifest.rootInputs);
  const viaOverlay = unsquash(again.res.dir, join(work, 'x-overlay'));
  assert.ok(viaOverlay.some((l) => l.startsWith('etc/motd ')) && !viaOverlay.some((l) => l.startsWith('boot/initrd.img-')), 'overlays laid in, pruned files gone');
  assert.equal(viaOverlay, unsquash(copied.res.dir, join(work, 'x-copy')), 'same root image content either way');
});

test('a step that fails leaves no mount and the cache untouched', async () => {
  const cached = snapshot(cacheEntry());
  const bin = fakeBin({ mksquashfs: 'echo "No space left on device" >&2; exit 1' });
  const out = join(work, 'out-fail');
  await build(out, { path: `${bin}:${PATH}` }).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, /No space left/),
  );
  assert.equal(mountsUnder(out), []);
  assert.equal(snapshot(cacheEntry()), cached);
});

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  test(`${signal} mid-build: ${signal === 'SIGKILL' ? 'the next build sweeps the overlay' : 'the overlay is unmounted'}; the cache is untouched`, async () => {
    const cached = snapshot(cacheEntry());
    const out = join(work, `out-${signal}`);
    const marker = join(work, `${signal}.pid`);
    const hang = fakeBin({ mksquashfs: `echo $$ > "${marker}"; exec sleep 120` });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'build-image', 'fake', '--templates', templatesDir, '--out', out, '--cache-dir', cacheDir],
      { cwd: projectRoot(), env: { ...process.env, PATH: `${hang}:${PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (const end = Date.now() + 60_000; !existsSync(marker); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > end) throw new Error(`mksquashfs never started:\n${text}`);
    }
    assert.is(mountsUnder(out).length, 1, 'the root is an overlay while the build runs');
    child.kill(signal);
    const code = await exit;
    try {
      process.kill(Number(readFileSync(marker, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
    if (signal === 'SIGKILL') {
      assert.is(mountsUnder(out).length, 1, 'a SIGKILLed build cannot unmount');
      const next = await build(out);
      assert.is(readlinkSync(join(out, IMAGE, 'current')), next.res.version);
    } else {
      assert.is(code, 130, text);
    }
    assert.equal(mountsUnder(out), [], 'no mount left');
    assert.equal(snapshot(cacheEntry()), cached, 'the cache is untouched');
  });
}

test.run();
