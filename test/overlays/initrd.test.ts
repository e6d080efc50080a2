// The initrd's VM mode, without a VM: /etc/disks.sh (disks by path or serial, the static
// address) run by busybox sh against a fake sysfs, and the rendered /init with the new
// parameters. The VM itself boots in test/e2e/vc-boot.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from '../../lib/render.js';
import { projectRoot } from '../../lib/paths.js';
import { needTool } from '../helpers/need.js';

const initrdDir = join(projectRoot(), 'overlays/initrd');
const work = mkdtempSync(join(tmpdir(), 'initrd-unit-'));
const sys = join(work, 'sys');
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A fake sysfs: disk name -> serial (or null for a disk without one). */
function fakeSys(disks: Record<string, string | null>): void {
  rmSync(sys, { recursive: true, force: true });
  for (const [name, serial] of Object.entries(disks)) {
    mkdirSync(join(sys, 'block', name), { recursive: true });
    mkdirSync(join(sys, 'class/block', name), { recursive: true });
    if (serial !== null) writeFileSync(join(sys, 'block', name, 'serial'), `${serial}\n`);
  }
  mkdirSync(join(sys, 'block'), { recursive: true });
}

/** Run `script` in busybox sh with disks.sh sourced and SYS at the fake sysfs. */
function sh(script: string): { status: number | null; out: string } {
  needTool('busybox', 'busybox-static');
  const res = spawnSync('busybox', ['sh', '-c', `SYS=${sys}; . ${join(initrdDir, 'disks.sh')}; ${script}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: res.status, out: `${res.stdout}${res.stderr}`.trim() };
}

test('a disk is found by its serial or by its /dev path', () => {
  fakeSys({ vda: 'root', vdb: 'scratch', sda: null });
  assert.equal(sh('disk_find serial:root'), { status: 0, out: '/dev/vda' });
  assert.equal(sh('disk_find serial:scratch'), { status: 0, out: '/dev/vdb' });
  assert.equal(sh('disk_find /dev/sda'), { status: 0, out: '/dev/sda' });
  assert.equal(sh('disk_find serial:roo'), { status: 1, out: '' }, 'a serial matches whole');
  assert.equal(sh('disk_find /dev/vdc'), { status: 1, out: '' });
  for (const bad of ['vda', 'serial:', '/dev/', 'label:root']) assert.equal(sh(`disk_find ${bad}`).status, 1, bad);
});

test('disk_wait answers as soon as the disk appears, and gives up after its timeout', () => {
  fakeSys({ vda: 'root' });
  assert.equal(sh('disk_wait serial:root 5'), { status: 0, out: '/dev/vda' });
  const t0 = Date.now();
  assert.equal(sh('disk_wait serial:scratch 1'), { status: 1, out: '' });
  assert.ok(Date.now() - t0 >= 1000, 'it waited');
  // The disk shows up while it waits (a slow virtio probe).
  const late = sh(`(sleep 1; mkdir -p ${sys}/block/vdb; echo scratch > ${sys}/block/vdb/serial) & disk_wait serial:scratch 10`);
  assert.equal(late, { status: 0, out: '/dev/vdb' });
});

test('disk_list names every disk with its serial, or says none; loop and RAM devices are no disks', () => {
  fakeSys({ loop0: null, loop7: null, ram0: null, vda: 'root', vdb: null });
  assert.equal(sh('disk_list').out, '/dev/vda (serial root) /dev/vdb');
  fakeSys({ loop0: null });
  assert.equal(sh('disk_list').out, 'none');
});

test('diskless.ip= takes ADDR/PREFIX with an optional gateway, and nothing else', () => {
  assert.equal(sh('ip_parse 10.90.0.2/24,10.90.0.1 && echo "$ADDR_CIDR|$GATEWAY"'), { status: 0, out: '10.90.0.2/24|10.90.0.1' });
  assert.equal(sh('ip_parse 192.168.7.200/30 && echo "$ADDR_CIDR|$GATEWAY"'), { status: 0, out: '192.168.7.200/30|' });
  for (const bad of ['10.90.0.2', '10.90.0.2/', '10.90.0.2/33', '10.90.0.256/24', '10.90.0/24', '10.90.0.2.1/24',
    '10.90.0.2/24,', '10.90.0.2/24,10.90.0', 'vc1-1/24', '10.90.0.2/24,10.90.0.1,x', '']) {
    assert.equal(sh(`ip_parse '${bad}'`).status, 1, bad);
  }
});

test('the rendered /init parses, sources disks.sh, and reads the VM parameters next to the PXE ones', () => {
  needTool('busybox', 'busybox-static');
  const init = render(readFileSync(join(initrdDir, 'init.mustache'), 'utf8'), {
    imageName: 'debian-bookworm-amd64', kernelVersion: '6.1.0-test', rootFile: 'root.squashfs', rootFormat: 'squashfs',
    modules: [{ path: 'kernel/drivers/block/virtio_blk.ko' }], writable: [{ path: '/var', mode: 'overlay' }],
  });
  const file = join(work, 'init');
  writeFileSync(file, init);
  const syntax = spawnSync('busybox', ['sh', '-n', file], { encoding: 'utf8' });
  assert.is(syntax.status, 0, syntax.stderr);
  assert.match(init, /^\. \/etc\/disks\.sh$/m);
  assert.match(init, /^\. \/etc\/root\.sh$/m);
  assert.match(init, /^parse_cmdline \$\(cat \/proc\/cmdline\)\nroot_sources root\.squashfs$/m);
  assert.match(init, 'fetch "root image" root.squashfs "$ROOT_URLS" "$ROOT_IMAGE"');
  assert.not.match(init, '.sha256"', 'no hash fetched from a replica');
  const rootSh = readFileSync(join(initrdDir, 'root.sh'), 'utf8');
  for (const p of ['rootdev', 'scratch', 'ip']) {
    assert.match(rootSh, new RegExp(`^ +diskless\\.${p}=\\*\\) `, 'm'), `${p} parsed`);
    assert.match(init, new RegExp(`^#   diskless\\.${p}=`, 'm'), `${p} documented in the header`);
  }
  // The PXE path keeps its own lines: the loop-mounted fetched image under a RAM overlay.
  assert.match(init, 'ROOT_OPTS=ro,loop');
  assert.match(init, 'UPPER="a RAM overlay"');
  assert.match(init, 'until udhcpc -i "$IFACE" -n -q -t 5 -T 2 -s /etc/udhcpc.script; do');
});

test.run();
