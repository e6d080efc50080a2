// The build root as an overlay over a cached root: writes and removals land in the
// upper layer and never in the cache; the root directory looks like the cache's; the
// mount goes with removeTree; where mount fails, the cache is copied instead.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overlayMountArgv, rootFromCache } from '../../rootfs/overlay.js';
import { removeTree } from '../../rootfs/remove.js';
import { fakeBin } from '../helpers/fakeroot.js';
import { mountsUnder, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'overlay-'));
test.after(() => removeTree(work)); // detaches any mount a failed assertion left

function cache(name: string): string {
  const lower = join(work, name);
  mkdirSync(join(lower, 'etc'), { recursive: true });
  mkdirSync(join(lower, 'boot'));
  writeFileSync(join(lower, 'etc/os-release'), 'ID=cached\n');
  writeFileSync(join(lower, 'boot/initrd.img-1'), 'distro initrd');
  symlinkSync('usr/lib', join(lower, 'lib'));
  utimesSync(lower, new Date('2020-01-01Z'), new Date('2020-01-01Z'));
  return lower;
}

test('mount argv: overlay with lower, upper and work; a path overlayfs options cannot carry is refused with the reason', () => {
  assert.equal(overlayMountArgv('/c/root', '/s/upper', '/s/work', '/s/root'), [
    'mount', '-t', 'overlay', 'diskless-root', '-o', 'lowerdir=/c/root,upperdir=/s/upper,workdir=/s/work', '/s/root',
  ]);
  assert.match(overlayMountArgv('/c/a,b', '/s/upper', '/s/work', '/s/root') as string, "the path /c/a,b has a character overlayfs options cannot carry");
  assert.type(overlayMountArgv('/c/a:b', '/u', '/w', '/m'), 'string');
});

test('overlay: writes and removals show in the root, the cache never changes, removeTree takes the mount away', async () => {
  const lower = cache('cache1');
  const before = snapshot(lower);
  const staging = join(work, 'staging1');
  const root = join(staging, 'root');
  mkdirSync(root, { recursive: true });
  assert.equal(await rootFromCache(lower, root, join(staging, 'layers')), { how: 'overlay' });
  assert.is(mountsUnder(staging).length, 1, 'mounted');
  assert.is(readFileSync(join(root, 'etc/os-release'), 'utf8'), 'ID=cached\n');
  const [r, l] = [lstatSync(root), lstatSync(lower)];
  assert.equal([r.mode, r.uid, r.gid, r.mtimeMs], [l.mode, l.uid, l.gid, l.mtimeMs], 'the root directory looks like the cached one');
  writeFileSync(join(root, 'etc/os-release'), 'ID=built\n');
  writeFileSync(join(root, 'etc/motd'), 'hello\n');
  rmSync(join(root, 'boot/initrd.img-1'));
  rmSync(join(root, 'lib'));
  assert.equal(readdirSync(join(root, 'boot')), [], 'removed in the merged view');
  assert.not.ok(existsSync(join(root, 'lib')));
  assert.equal(snapshot(lower), before, 'the cache is untouched');
  await removeTree(staging);
  assert.equal(mountsUnder(staging), [], 'no mount left');
  assert.not.ok(existsSync(staging));
  assert.equal(snapshot(lower), before, 'the cache is untouched after removal');
});

test('where overlayfs cannot be mounted, the cache is copied and the reason is given', async () => {
  const lower = cache('cache2');
  const before = snapshot(lower);
  const staging = join(work, 'staging2');
  const root = join(staging, 'root');
  mkdirSync(root, { recursive: true });
  const old = process.env.PATH;
  process.env.PATH = `${fakeBin({ mount: 'echo "mount: unknown filesystem type overlay" >&2; exit 32' })}:${old}`;
  try {
    const from = await rootFromCache(lower, root, join(staging, 'layers'));
    assert.is(from.how, 'copy');
    assert.match((from as { why: string }).why, 'unknown filesystem type overlay');
  } finally {
    process.env.PATH = old;
  }
  assert.equal(mountsUnder(staging), []);
  assert.equal(snapshot(root), before, 'the copy is the cache, attributes and all');
  rmSync(join(root, 'boot/initrd.img-1'));
  assert.equal(snapshot(lower), before);
  await removeTree(staging);
});

test.run();
