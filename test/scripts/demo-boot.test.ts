// scripts/demo-boot.ts as an administrator uses it: --help teaches and boots nothing,
// --image NAME boots that image to node-up, and a demo stopped by SIGTERM or SIGKILL
// leaves no helper running (radvd, serve, QEMU die with it: a parent-death signal).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsAvailable } from '../../host/netns.js';
import { qemuMissing } from '../../host/qemu.js';
import { watchOutput } from '../../host/output.js';
import { projectRoot } from '../../lib/paths.js';
import { builtDebian, DEBIAN } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'dl-demo-test-'));
const images = join(work, 'images');

function demo(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'scripts/demo-boot.ts'), ...args], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? 128 : null))));
  return { child, out: watchOutput(child), exit };
}

const netnsOf = (pid: number) => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`dl-${pid}-`));
const pidsIn = (ns: string) => spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);

test('--help prints usage and the flags, and boots nothing', async () => {
  const d = demo(['--help']);
  assert.is(await d.exit, 0);
  for (const s of ['--image', '--nic', '--images', '--firmware', 'uefi-secure', 'Examples:']) assert.ok(d.out.log().includes(s), `${s} in:\n${d.out.log()}`);
  assert.not.ok(d.out.log().includes('booting'), 'nothing booted');
});

test('UEFI with an e1000 card is refused before anything starts, naming the fix', async () => {
  const d = demo(['--firmware', 'uefi', '--nic', 'e1000']);
  assert.is(await d.exit, 1);
  assert.match(d.out.log(), /--firmware uefi --nic e1000: OVMF's own network stack drives virtio only; use --nic virtio/);
});

test('an image that is not there is named, with the images that are', async () => {
  builtDebian(images);
  const d = demo(['--images', images, '--image', 'nosuch']);
  assert.is(await d.exit, 1);
  assert.match(d.out.log(), /--image nosuch: no .*nosuch\/current; images there: debian-bookworm-amd64/);
});

const skip = netnsAvailable() ?? qemuMissing();
test('--image NAME --firmware uefi boots that image through OVMF to node-up, then removes its namespace', async () => {
  need(skip);
  cpSync(join(images, DEBIAN), join(images, 'demo-other'), { recursive: true, verbatimSymlinks: true });
  const d = demo(['--images', images, '--image', 'demo-other', '--firmware', 'uefi']);
  const up = await d.out.waitFor(/demo: node01 booted diskless/, 600_000, 'the demo node to boot');
  assert.ok(up);
  assert.match(d.out.log(), /\/images\/demo-other\//, 'the root came from the image named');
  assert.match(d.out.log(), /ipxe\.efi/, "OVMF's own PXE loaded ipxe.efi");
  assert.is(await d.exit, 0);
  assert.equal(netnsOf(d.child.pid!), []);
});

for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
  test(`${sig} during the boot: no helper survives the demo`, async () => {
    need(skip);
    const d = demo(['--images', images]);
    await d.out.waitFor(/demo: booting node01/, 120_000, 'the demo to start the node');
    const [ns] = netnsOf(d.child.pid!);
    assert.ok(ns, 'the demo made its namespace');
    const helpers = pidsIn(ns!);
    assert.ok(helpers.length >= 3, `serve, radvd and QEMU run in ${ns}: ${helpers}`);
    d.child.kill(sig);
    await d.exit;
    const end = Date.now() + 10_000;
    while (helpers.some((p) => existsSync(`/proc/${p}`)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.equal(helpers.filter((p) => existsSync(`/proc/${p}`)), [], 'every helper ended');
    if (sig === 'SIGTERM') {
      assert.equal(netnsOf(d.child.pid!), [], 'namespace removed');
      assert.match(d.out.log(), /SIGTERM: stopping the node and the boot service/);
    } else {
      spawnSync('ip', ['netns', 'del', ns!]); // nothing can clean up after SIGKILL but the helpers' own death
    }
  });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
