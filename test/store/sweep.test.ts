// The start-up sweep of the images folder: staging and temp files left by killed pulls,
// builds and writes go (ours by pid included), finished versions stay, and an image whose
// lock a live process holds is not touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processStart } from '../../lib/pidlock.js';
import { sweepStore } from '../../store/sweep.js';
import { makeImages } from '../../tools/images.js';

test('leftovers of killed pulls, builds and writes are swept; versions, current and busy images stay', async () => {
  const img = makeImages();
  const dir = join(img.root, img.name);
  const dead = spawnSync('true').pid!;
  mkdirSync(join(dir, `.pull-20260102-000000-${dead}`, 'x'), { recursive: true });
  writeFileSync(join(dir, `.pull-20260102-000000-${dead}`, 'root.squashfs'), 'half');
  mkdirSync(join(dir, `.pull-20260103-000000-${process.pid}`)); // our pid, from before a restart
  mkdirSync(join(dir, '.build-20260104-000000'));
  writeFileSync(join(dir, '.build-20260104-000000', 'pid'), `${dead}\n`);
  symlinkSync(img.version, join(dir, `.current.${dead}.0badc0de.tmp`));

  // Another image, mid-pull by a live process holding its lock.
  const busy = join(img.root, 'other');
  const child = spawn('sleep', ['30']);
  mkdirSync(join(busy, `.pull-20260101-000000-${child.pid}`), { recursive: true });
  // A pull holds no lock while it downloads: one by a live process (not us) is left alone.
  mkdirSync(join(dir, `.pull-20260105-000000-${child.pid}`));
  mkdirSync(join(dir, `.prune-20260100-000000-${dead}`)); // a killed prune's hidden version
  try {
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(busy, '.lock'), JSON.stringify({ pid: child.pid, start: processStart(child.pid!), token: 't', owner: 'pull' }));
    const r = await sweepStore(img.root);
    assert.equal(readdirSync(dir).sort(), [`.pull-20260105-000000-${child.pid}`, 'current', img.version].sort());
    assert.is(r.removed.length, 5, r.removed.join('\n'));
    assert.equal(r.busy, [busy]);
    assert.equal(readdirSync(busy).sort(), ['.lock', `.pull-20260101-000000-${child.pid}`]);
  } finally {
    child.kill('SIGKILL');
  }
  // Once its holder is gone, it is swept too.
  await new Promise((r) => child.once('exit', r));
  const again = await sweepStore(img.root);
  assert.equal(again.busy, []);
  assert.equal(readdirSync(busy), []);
  assert.equal(readdirSync(dir).sort(), ['current', img.version].sort());
});

test.run();
