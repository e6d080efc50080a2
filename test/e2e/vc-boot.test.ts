// A VM of a virtual cluster, booted the way the VC driver boots it: the image's kernel and
// initrd given to QEMU (TCG) directly, the root image as a read-only virtio disk, a qcow2
// scratch disk over an empty formatted base for the overlay's upper layer, and a static
// address and hostname on the kernel command line. No DHCP, no boot service.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, netnsAvailable, type Netns } from '../../host/netns.js';
import { bootNetwork } from '../../host/bridge.js';
import { qemuMissing } from '../../host/qemu.js';
import { watchOutput } from '../../host/output.js';
import { builtDebian, DEBIAN } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-vc-boot-'));
const images = join(work, 'images');
const tools = ['mmdebstrap', 'mksquashfs', 'qemu-img', 'mkfs.ext4', 'e2fsck', 'debugfs', 'busybox'];
const skip =
  netnsAvailable() ??
  qemuMissing() ??
  (spawnSync('sh', ['-c', tools.map((t) => `command -v ${t}`).join(' && ')]).status !== 0 ? `one of ${tools.join(', ')} is missing (scripts/install-deps.sh; qemu-img is in qemu-utils)` : undefined);

const VM = { name: 'vc1-1', address: '10.90.0.2', prefix: 24, gateway: '10.90.0.1', mac: '52:54:00:90:00:02' };
const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+) hypervisor=(\S+) secureboot=(\S+)\n/;
const BOOT_COUNT = /diskless: boot-count=(\d+) upper=(\S+)\n/;
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function sh(argv: string[], okCodes = [0]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${argv.join(' ')} -> ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

if (skip) {
  test('a VC VM boots from its disks', () => need(skip));
} else {
  let ns: Netns;
  let dir: string;
  let manifest: { version: string; cmdline: string; artifacts: Record<string, { file: string; sha256: string }> };
  const base = join(work, 'scratch-base.qcow2');
  const scratch = join(work, 'vc1-1.qcow2');
  let baseSha: string;

  test.before(() => {
    builtDebian(images); // the run's one plain debian build (test/helpers/built-image.ts)
    dir = join(images, DEBIAN, readlinkSync(join(images, DEBIAN, 'current')));
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    // What the VC code makes once per host: an empty ext4, as a qcow2 base; per VM a
    // copy-on-write overlay of it (constant time, whatever the size).
    const raw = join(work, 'scratch-base.raw');
    sh(['truncate', '-s', '256M', raw]);
    sh(['mkfs.ext4', '-q', '-F', '-L', 'scratch', raw]);
    sh(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, base]);
    rmSync(raw);
    baseSha = sha256(base);
    sh(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', scratch]);
    ns = createNetns('vcboot');
    bootNetwork(ns, `${VM.gateway}/${VM.prefix}`, 1); // tap0 on a bridge that holds the gateway's address
  });

  test.after(async () => {
    await ns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  /** Boot the VM: root image on the first virtio disk (serial root), the scratch qcow2 on the second (serial scratch). */
  function boot(args: string, scratchFile: string) {
    const monitor = join(work, 'monitor.sock');
    rmSync(monitor, { force: true });
    const cmdline = `${manifest.cmdline} diskless.image=${DEBIAN}/${manifest.version} diskless.name=${VM.name} ${args}`;
    const child = ns.spawn([
      'qemu-system-x86_64', '-accel', 'tcg', '-m', '512', '-smp', '1', '-nodefaults',
      '-display', 'none', '-serial', 'stdio', '-monitor', `unix:${monitor},server=on,wait=off`, '-no-reboot',
      '-kernel', join(dir, manifest.artifacts.kernel!.file), '-initrd', join(dir, manifest.artifacts.initrd!.file), '-append', cmdline,
      '-drive', `if=none,id=root,format=raw,readonly=on,file=${join(dir, manifest.artifacts.root!.file)}`,
      '-device', 'virtio-blk-pci,drive=root,serial=root',
      '-drive', `if=none,id=scratch,format=qcow2,file=${scratchFile}`,
      '-device', 'virtio-blk-pci,drive=scratch,serial=scratch',
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${VM.mac}`,
    ]);
    return { child, monitor, out: watchOutput(child) };
  }

  const exited = (child: ChildProcess, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      child.once('exit', () => (clearTimeout(timer), resolve(true)));
    });

  /**
   * Stop the VM cleanly: Ctrl-Alt-Del from the monitor (systemd stops its units, syncs and
   * reboots; -no-reboot ends QEMU). The ACPI power button (dbus and logind) is proven by
   * test/e2e/vc.test.ts through vc stop. Past the time: power off.
   */
  async function stop(vm: ReturnType<typeof boot>): Promise<'clean' | 'killed'> {
    const monitor = createConnection(vm.monitor);
    monitor.on('error', () => {}); // QEMU may be gone before it answers
    monitor.end('sendkey ctrl-alt-delete\n');
    const clean = await exited(vm.child, 120_000);
    monitor.destroy();
    if (clean) return 'clean';
    process.kill(vm.child.pid!, 'SIGKILL');
    await exited(vm.child, 10_000);
    return 'killed';
  }

  /** A file from the upper layer on a scratch qcow2, read offline: raw copy, journal replayed, debugfs. */
  function scratchFile(qcow2: string, path: string): string {
    const raw = join(work, 'inspect.raw');
    sh(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
    sh(['e2fsck', '-fy', raw], [0, 1]);
    const out = sh(['debugfs', '-R', `cat ${path}`, raw]);
    rmSync(raw);
    return out;
  }

  async function upAs(vm: ReturnType<typeof boot>, upper: string): Promise<number> {
    const up = await vm.out.waitFor(NODE_UP, 300_000, `${VM.name} to come up`);
    assert.is(up[1], VM.name, 'the hostname from diskless.name');
    assert.is(up[2], `${VM.address}/${VM.prefix}`, 'the static address from diskless.ip');
    assert.is(up[3], DEBIAN);
    assert.is(up[4], manifest.version);
    assert.is(up[5], 'overlay', '/ is an overlay');
    assert.is(up[6], 'squashfs,ro', 'its lower layer is the read-only root disk');
    assert.is(up[7], upper);
    const count = await vm.out.waitFor(BOOT_COUNT, 60_000, 'the boot count');
    assert.is(count[2], upper);
    assert.not.match(vm.out.log(), /diskless: ERROR/);
    return Number(count[1]);
  }

  test('a VC VM boots from its read-only root disk with its upper layer on the scratch disk, its name and static address', async () => {
    const vm = boot(`diskless.rootdev=serial:root diskless.scratch=serial:scratch diskless.ip=${VM.address}/${VM.prefix},${VM.gateway}`, scratch);
    assert.is(await upAs(vm, 'ext4'), 1, 'first boot on a fresh scratch disk');
    assert.match(vm.out.log(), 'diskless: root image on /dev/vda');
    assert.match(vm.out.log(), 'under an overlay on /dev/vdb');
    // The address is really on the VM's link: the gateway's side of the bridge reaches it.
    ns.exec(['busybox', 'ping', '-c', '1', '-w', '20', VM.address], { timeoutMs: 30_000 });
    assert.is(await stop(vm), 'clean', `the VM shuts down cleanly; last output:\n${vm.out.log().slice(-2000)}`);
    assert.is(scratchFile(scratch, '/upper/var/lib/diskless/boot-count'), '1\n', 'the boot wrote /var on the scratch disk');
  });

  test('what the VM wrote under /var survives a stop and start with its scratch disk', async () => {
    const vm = boot(`diskless.rootdev=serial:root diskless.scratch=serial:scratch diskless.ip=${VM.address}/${VM.prefix}`, scratch);
    assert.is(await upAs(vm, 'ext4'), 2, 'the count from the first boot was there');
    assert.is(await stop(vm), 'clean');
    assert.is(scratchFile(scratch, '/upper/var/lib/diskless/boot-count'), '2\n');
  });

  test('with diskless.scratch=ram the upper layer is RAM: nothing lands on the attached disk', async () => {
    const before = join(work, 'before-ram.qcow2');
    sh(['cp', scratch, before]);
    const vm = boot(`diskless.rootdev=/dev/vda diskless.scratch=ram diskless.ip=${VM.address}/${VM.prefix}`, scratch);
    assert.is(await upAs(vm, 'tmpfs'), 1, "the scratch disk's count is not seen");
    assert.is(await stop(vm), 'clean');
    assert.is(spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', before, scratch]).status, 0, 'the scratch disk is unchanged');
  });

  test('a root disk that is not there is waited for, then named with the disks there are', async () => {
    const vm = boot('diskless.rootdev=serial:nosuch diskless.scratch=ram', scratch);
    try {
      await vm.out.waitFor(
        /diskless: ERROR: no root disk serial:nosuch after 30 s \(diskless\.rootdev= takes \/dev\/NAME or serial:NAME; disks here: \/dev\/vda \(serial root\) \/dev\/vdb \(serial scratch\)\)\n/,
        180_000, 'the missing-disk message',
      );
    } finally {
      process.kill(vm.child.pid!, 'SIGKILL');
      await exited(vm.child, 10_000);
    }
  });

  test('the shared root image and the scratch base keep their content through the boots', () => {
    for (const a of Object.values(manifest.artifacts)) assert.is(sha256(join(dir, a.file)), a.sha256, `${a.file} unchanged`);
    assert.is(sha256(base), baseSha, 'the scratch base is only ever read');
  });
}

test.run();
