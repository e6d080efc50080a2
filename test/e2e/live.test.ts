// The spark plug: `build-image debian --live` makes a CD/USB medium of a node that
// serves the cluster from RAM. With nothing else running, a machine boots the medium
// in QEMU (TCG) and a second machine PXE-boots from it, in a network namespace the
// test makes. The same file also boots as a USB stick under UEFI (OVMF).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, netnsAvailable, type Netns } from '../../host/netns.js';
import { bootNetwork } from '../../host/bridge.js';
import { watchOutput } from '../../host/output.js';
import { ovmfMissing, OVMF_VARS, qemuMissing, startFromMedium, startNode } from '../../host/qemu.js';
import { radvdMissing, startRadvd } from '../../host/radvd.js';
import { liveHostProblems } from '../../builders/live/iso.js';
import { buildImage } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-live-'));
const images = join(work, 'images');
const skip =
  netnsAvailable() ??
  qemuMissing() ??
  radvdMissing() ??
  liveHostProblems()[0] ??
  (spawnSync('sh', ['-c', 'command -v mmdebstrap && command -v mksquashfs && command -v grub-mkrescue && command -v xorriso && command -v mformat']).status !== 0
    ? 'mmdebstrap, mksquashfs, grub-mkrescue, xorriso or mformat missing (scripts/install-deps.sh)'
    : undefined);

const inventory = `cluster: spark
network:
  subnet: 10.79.0.0/24
servers: [10.79.0.1, 10.79.0.2]
defaults:
  image: debian-bookworm-amd64
nodes:
  - { name: first, mac: "52:54:00:79:00:f0", ip: 10.79.0.1 }
  - { name: spark02, mac: "52:54:00:79:00:02", ip: 10.79.0.2 }
`;
const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+) hypervisor=(\S+) secureboot=(\S+)\n/;
const LIVE_MAC = '52:54:00:79:00:f0';

/** Stop these QEMU machines (by PID) and wait until they are gone, so their taps are free. */
async function powerOff(vms: ChildProcess[]): Promise<void> {
  const running = vms.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of running) if (c.pid) process.kill(c.pid, 'SIGTERM');
  await Promise.all(running.map((c) => new Promise((r) => c.once('exit', r))));
}

if (skip) {
  test('live medium', () => need(skip));
} else {
  let iso = '';
  let version = '';
  let ns: Netns;

  test.before(() => {
    writeFileSync(join(work, 'cluster.yaml'), inventory);
    buildImage(['debian', '--live', '-i', join(work, 'cluster.yaml')], images); // with the run's bootstrap cache
    const dir = join(images, 'debian-bookworm-amd64');
    version = readlinkSync(join(dir, 'current'));
    iso = join(dir, version, 'live.iso');
    ns = createNetns('live');
    bootNetwork(ns, '10.79.0.254/24', 2);
    startRadvd(ns, 'br0', join(work, 'radvd.conf'));
  });

  test.after(async () => {
    await ns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('the medium: BIOS and UEFI boot records, the image and inventory bundled, checksums, not in the manifest', () => {
    const report = spawnSync('xorriso', ['-indev', iso, '-report_el_torito', 'plain'], { encoding: 'utf8' }).stdout;
    assert.match(report, /El Torito boot img :\s+1\s+BIOS\s+y/, 'BIOS El Torito entry');
    assert.match(report, /El Torito boot img :\s+2\s+UEFI\s+y/, 'UEFI El Torito entry');
    const ls = spawnSync('xorriso', ['-indev', iso, '-find', '/diskless', '-type', 'f'], { encoding: 'utf8' }).stdout;
    for (const f of ['SHA256SUMS', 'cluster.yaml', 'cluster.yaml.sig', ...['root.squashfs', 'service.squashfs', 'vmlinuz', 'initrd.img', 'manifest.json', 'manifest.json.sig'].map((a) => `images/debian-bookworm-amd64/${version}/${a}`)]) {
      assert.ok(ls.includes(`/diskless/${f}'`), `${f} on the medium`);
    }
    spawnSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/boot/grub/grub.cfg', join(work, 'grub.cfg')]);
    const grub = readFileSync(join(work, 'grub.cfg'), 'utf8');
    assert.match(grub, new RegExp(`diskless\\.live=10\\.79\\.0\\.1/24 diskless\\.image=debian-bookworm-amd64/${version} diskless\\.layers=service\\.squashfs`));
    assert.match(grub, /serve cluster spark as 10\.79\.0\.2/, 'one menu entry per replica address');
    const manifest = JSON.parse(readFileSync(join(images, 'debian-bookworm-amd64', version, 'manifest.json'), 'utf8'));
    assert.not.ok(Object.values(manifest.artifacts).some((a) => (a as { file: string }).file === 'live.iso'), 'replicas do not pull the medium');
    assert.ok(readdirSync(join(images, 'debian-bookworm-amd64', version)).includes('live.iso.sha256'));
  });

  test('spark plug: a machine boots the CD (BIOS) and serves from RAM; a replica node PXE-boots from it and joins; the first machine then reboots from the network', async () => {
    const started = Date.now();
    const vms: ChildProcess[] = [];
    try {
      let liveVm = startFromMedium(ns, { tap: 'tap0', mac: LIVE_MAC, image: iso, media: 'cdrom' });
      vms.push(liveVm);
      let live = watchOutput(liveVm);
      await live.waitFor(/diskless: live: medium copied and verified/, 300_000, 'the live node to copy the medium into RAM');
      await live.waitFor(/serving cluster spark as 10\.79\.0\.1/, 300_000, 'the live node to serve');
      const servingAt = Date.now();
      const status = ns.exec(['curl', '-sf', '--max-time', '10', 'http://10.79.0.1/status']);
      assert.match(status.stdout, 'debian-bookworm-amd64', `status lists the bundled image: ${status.stdout}`);

      // spark02 is listed under servers: it PXE-boots from the live node with the service
      // layer, joins (inventory from the live node) and pulls the image, verified.
      const replicaVm = startNode(ns, { tap: 'tap1', mac: '52:54:00:79:00:02', nic: 'e1000', memMb: 1536 });
      vms.push(replicaVm);
      const replica = watchOutput(replicaVm);
      const up = await replica.waitFor(NODE_UP, 300_000, 'spark02 to PXE-boot from the live node');
      assert.equal([up[1], up[2], up[3], up[4], up[5]], ['spark02', '10.79.0.2/24', 'debian-bookworm-amd64', version, 'overlay']);
      assert.match(replica.log(), 'diskless: layer service.squashfs mounted above the root');
      await replica.waitFor(/joined cluster spark \(inventory version 0\) from 10\.79\.0\.1/, 120_000, 'spark02 to join');
      await replica.waitFor(/serving cluster spark as 10\.79\.0\.2/, 120_000, 'spark02 to serve');
      await replica.waitFor(new RegExp(`image debian-bookworm-amd64/${version} pulled from 10\\.79\\.0\\.1, every artifact verified`), 300_000, 'spark02 to pull the image');
      const replicaAt = Date.now();

      // The first machine is switched off and boots again, from the network this time: from spark02.
      process.kill(liveVm.pid!, 'SIGTERM');
      await new Promise((r) => (liveVm.exitCode === null && liveVm.signalCode === null ? liveVm.once('exit', r) : r(undefined)));
      liveVm = startNode(ns, { tap: 'tap0', mac: LIVE_MAC, nic: 'e1000', memMb: 1536 });
      vms.push(liveVm);
      live = watchOutput(liveVm);
      const again = await live.waitFor(NODE_UP, 300_000, 'the first machine to boot from the network');
      assert.equal([again[1], again[2], again[5], again[6]], ['first', '10.79.0.1/24', 'overlay', 'squashfs,ro']);
      await live.waitFor(/serving cluster spark as 10\.79\.0\.1/, 120_000, 'the first machine to serve again, now as a network-booted replica');
      assert.match(replica.log(), /first 52:54:00:79:00:f0 dhcp ack 10\.79\.0\.1/, 'spark02 gave the first machine its address');
      console.log(
        `live: serving ${((servingAt - started) / 1000).toFixed(1)} s after power-on (BIOS, CD); replica spark02 up and holding the image ` +
          `${((replicaAt - servingAt) / 1000).toFixed(1)} s later; the first machine back from the network in ${((Date.now() - replicaAt) / 1000).toFixed(1)} s`,
      );
    } finally {
      await powerOff(vms); // the next test boots another live node on the same tap and address
    }
  });

  test('the same file written to a USB stick boots under UEFI (OVMF) and serves', async () => {
    need(ovmfMissing());
    const vars = join(work, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    const started = Date.now();
    const vm = startFromMedium(ns, { tap: 'tap0', mac: LIVE_MAC, image: iso, media: 'usb', uefiVars: vars });
    const live = watchOutput(vm);
    try {
      const found = await live.waitFor(/diskless: live: copying the medium \((\S+)\) into RAM/, 400_000, 'the initrd to find the USB stick');
      assert.match(found[1]!, /^\/dev\/sd/, 'found as a USB disk, not a CD');
      await live.waitFor(/diskless: live: medium copied and verified/, 300_000, 'the copy into RAM');
      await live.waitFor(/serving cluster spark as 10\.79\.0\.1/, 300_000, 'the live node to serve');
      const status = ns.exec(['curl', '-sf', '--max-time', '10', 'http://10.79.0.1/status']);
      assert.match(status.stdout, 'debian-bookworm-amd64');
      console.log(`live: serving ${((Date.now() - started) / 1000).toFixed(1)} s after power-on (UEFI, USB stick)`);
    } finally {
      await powerOff([vm]);
    }
  });
}

test.run();
