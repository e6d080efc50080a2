// Secure Boot with Debian's signed binaries only, and the mixed cluster: one `diskless
// serve` in a network namespace boots, at the same time, a Secure Boot node (OVMF secboot
// with Microsoft's keys: shim → GRUB over TFTP → the Debian-signed kernel), a Secure Boot
// node whose kernel has one byte changed (GRUB refuses it), a UEFI node (OVMF's own PXE,
// no option ROM) and a BIOS node (iPXE ROM). QEMU TCG, the run's one debian build.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNetwork } from '../../host/bridge.js';
import { createNetns, netnsAvailable, type Netns } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { copyOvmfVars, ovmfMissing, qemuMissing, startNode, type MachineFirmware, type Nic } from '../../host/qemu.js';
import { radvdMissing, startRadvd } from '../../host/radvd.js';
import { projectRoot } from '../../lib/paths.js';
import { SECURE_BOOT_CHAIN } from '../../pxe/tftp/names.js';
import { builtDebian, DEBIAN } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-sb-'));
const images = join(work, 'images');
const skip =
  netnsAvailable() ??
  qemuMissing() ??
  ovmfMissing() ??
  radvdMissing() ??
  Object.values(SECURE_BOOT_CHAIN).map((f) => (spawnSync('test', ['-f', f]).status === 0 ? undefined : `${f} is missing (apt-get install shim-signed grub-efi-amd64-signed)`)).find(Boolean) ??
  (spawnSync('sh', ['-c', 'command -v mmdebstrap && command -v mksquashfs']).status !== 0 ? 'mmdebstrap/mksquashfs missing (scripts/install-deps.sh)' : undefined);

interface Machine { name: string; mac: string; ip: string; nic: Nic; firmware: MachineFirmware; image?: string; kernelArgs?: string }
const MACHINES: Machine[] = [
  // loglevel=6: the kernel's lockdown notice reaches the console past `quiet`.
  { name: 'sb01', mac: '52:54:00:81:00:01', ip: '10.81.0.11', nic: 'virtio', firmware: 'uefi-secure', kernelArgs: 'loglevel=6' },
  { name: 'sb02', mac: '52:54:00:81:00:02', ip: '10.81.0.12', nic: 'virtio', firmware: 'uefi-secure', image: 'tampered' },
  { name: 'uefi01', mac: '52:54:00:81:00:03', ip: '10.81.0.13', nic: 'virtio', firmware: 'uefi' },
  { name: 'bios01', mac: '52:54:00:81:00:04', ip: '10.81.0.14', nic: 'e1000', firmware: 'bios' },
];

const inventory = `cluster: sb
network:
  subnet: 10.81.0.0/24
servers: [10.81.0.1]
defaults:
  image: ${DEBIAN}
nodes:
${MACHINES.map((m) => `  - { name: ${m.name}, mac: "${m.mac}", ip: ${m.ip}, firmware: ${m.firmware}${m.image ? `, image: ${m.image}` : ''}${m.kernelArgs ? `, kernelArgs: "${m.kernelArgs}"` : ''} }`).join('\n')}
`;

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+) hypervisor=(\S+) secureboot=(\S+)\n/;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Ev { time: string; kind: string; node?: string; file?: string; step?: string; status?: string | number; type?: string; bootfile?: string; path?: string }

/** Image `tampered`: the run's debian with one byte of the kernel changed, and a manifest that says so (size and sha256 agree). */
function tamperedImage(version: string): void {
  const from = join(images, DEBIAN, version);
  const to = join(images, 'tampered', version);
  mkdirSync(to, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8'));
  for (const a of Object.values(manifest.artifacts) as { file: string; size: number; sha256: string }[]) {
    if (a.file !== manifest.artifacts.kernel.file) {
      linkSync(join(from, a.file), join(to, a.file));
      continue;
    }
    const k = readFileSync(join(from, a.file));
    const at = k.length >> 1; // in the compressed payload: the PE image's hash no longer matches its signature
    k.writeUInt8(k.readUInt8(at) ^ 0x01, at);
    writeFileSync(join(to, a.file), k);
    a.sha256 = sha256(k);
  }
  manifest.name = 'tampered';
  writeFileSync(join(to, 'manifest.json'), JSON.stringify(manifest, null, 2));
  symlinkSync(version, join(images, 'tampered', 'current'));
}

if (skip) {
  test('Secure Boot and mixed firmware boot end to end', () => need(skip));
} else {
  let ns: Netns;
  let served: ReturnType<typeof watchOutput>;
  let taps: string[];
  let version: string;

  test.before(async () => {
    version = builtDebian(images).version; // the run's one plain debian build (test/helpers/built-image.ts)
    tamperedImage(version);
    ns = createNetns('sb');
    taps = bootNetwork(ns, '10.81.0.1/24', MACHINES.length);
    // Router advertisements, as on a normal network: without them iPXE waits ~15 s for IPv6.
    startRadvd(ns, 'br0', join(work, 'radvd.conf'));
    writeFileSync(join(work, 'cluster.yaml'), inventory);
    const serve = ns.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'),
        '--images', images, '--lease-file', join(work, 'leases.json'), '--log-format', 'json'],
      { cwd: projectRoot() },
    );
    served = watchOutput(serve);
    await served.waitFor(/serving cluster sb as 10\.81\.0\.1/, 60_000, 'diskless serve');
    // The start line lists what this replica can boot: the Secure Boot chain was found.
    assert.match(served.log(), /boots: [^\n]*UEFI Secure Boot \(shimx64\.efi over TFTP\)/);
  });

  test.after(async () => {
    await ns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('Secure Boot, UEFI and BIOS nodes boot from one serve at once; a kernel with one byte changed is refused by GRUB', async () => {
    const started = Date.now();
    const running = MACHINES.map((m, i) => {
      const uefiVars = m.firmware === 'bios' ? undefined : copyOvmfVars(work, m.firmware, `${m.name}_VARS.fd`);
      // No option ROM under UEFI: OVMF's own PXE client does DHCP (arch 7) and TFTP.
      const child: ChildProcess = startNode(ns, { tap: taps[i]!, mac: m.mac, nic: m.nic, firmware: m.firmware, uefiVars, ...(m.firmware === 'bios' ? {} : { romfile: '' }) });
      return { ...m, child, out: watchOutput(child) };
    });
    const byName = (n: string) => running.find((r) => r.name === n)!;
    const upAt: Record<string, number> = {};

    const tampered = byName('sb02');
    const refused = tampered.out.waitFor(/error: bad shim signature/, 900_000, 'GRUB to refuse the changed kernel').then(() => {
      // Its console until then; the machine is stopped so the others get the CPU.
      const log = tampered.out.log();
      process.kill(tampered.child.pid!, 'SIGTERM');
      return log;
    });
    const ups = running.filter((m) => m !== tampered).map(async (m) => {
      const up = await m.out.waitFor(NODE_UP, 900_000, `${m.name} (${m.firmware}) to come up`);
      upAt[m.name] = Date.now();
      assert.is(up[1], m.name, 'inventory name');
      assert.is(up[2], `${m.ip}/24`, 'inventory address');
      assert.is(up[3], DEBIAN);
      assert.is(up[4], version);
      assert.is(up[6], 'squashfs,ro', 'the read-only squashfs');
      assert.is(up[9], m.firmware === 'uefi-secure' ? 'on' : 'off', `${m.name}: secureboot`);
      process.kill(m.child.pid!, 'SIGTERM'); // done: leave the CPU to the rest
    });
    // Every machine's outcome, so one slow or failing node does not hide how the others did.
    const settled = await Promise.allSettled([refused, ...ups]);
    for (const m of running) if (m.child.exitCode === null && m.child.pid) process.kill(m.child.pid, 'SIGTERM');
    const failed = settled.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    assert.equal(failed, [], failed.join('\n\n'));
    const log = (settled[0] as PromiseFulfilledResult<string>).value;

    // The changed kernel: shim and GRUB ran (GRUB loaded its config and fetched the kernel), then refused it.
    assert.match(log, /error: bad shim signature/);
    assert.not.match(log, /Linux version/, 'the changed kernel never ran');
    const sb = byName('sb01').out.log();
    assert.match(sb, /Kernel is locked down from EFI Secure Boot/, 'lockdown in the kernel log');

    const events = served.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
    const steps = (node: string) => events.filter((e) => e.node === node && e.kind === 'tftp' && e.status === 'done' && e.step).map((e) => e.step!);
    const chain = (node: string) => steps(node).filter((s, i, all) => all.indexOf(s) === i);
    // Each step of the chain, over TFTP, in order; the root image then over HTTP from the initrd.
    assert.equal(chain('sb01'), ['shim', 'grub', 'grub.cfg', 'node-cfg', 'kernel', 'initrd'], `sb01's TFTP steps: ${steps('sb01').join(' ')}`);
    assert.equal(chain('sb02').slice(0, 5), ['shim', 'grub', 'grub.cfg', 'node-cfg', 'kernel'], `sb02's TFTP steps: ${steps('sb02').join(' ')}`);
    assert.ok(!steps('sb02').includes('initrd'), 'GRUB stopped at the changed kernel');
    assert.ok(events.some((e) => e.node === 'sb01' && e.kind === 'http' && e.path?.endsWith('/root.squashfs') && e.status === 200), 'the root image over HTTP');
    for (const n of Object.keys(upAt)) console.log(`secureboot/mixed: ${n} up in ${((upAt[n]! - started) / 1000).toFixed(1)} s`);
    assert.ok(events.some((e) => e.node === 'uefi01' && e.kind === 'tftp' && e.file === 'ipxe.efi' && e.status === 'done'), 'the UEFI node got ipxe.efi over TFTP');
    // The BIOS node's NIC ROM is iPXE: it asks for its script over HTTP at once.
    assert.ok(events.some((e) => e.node === 'bios01' && e.kind === 'http' && e.path === '/boot/52-54-00-81-00-04.ipxe' && e.status === 200), 'the BIOS node got its iPXE script');
  });
}

test.run();
