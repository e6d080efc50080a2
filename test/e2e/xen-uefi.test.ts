// A Xen Dom0 on UEFI, end to end: OVMF's own PXE client (a virtio NIC with no option
// ROM, `firmware: uefi`) asks `diskless serve` by DHCP, gets GRUB (Debian's signed
// grubnetx64, Secure Boot off) over TFTP, GRUB reads grub/grub.cfg and the node's own
// config, loads Xen by multiboot2 with the dom0 kernel and initrd as modules, and the
// dom0 comes up diskless on the run's shared xen-dom0 image (built-image.ts builtXen).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootNetwork } from '../../host/bridge.js';
import { createNetns, netnsAvailable, type Netns } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { copyOvmfVars, ovmfMissing, qemuMissing, startNode } from '../../host/qemu.js';
import { projectRoot } from '../../lib/paths.js';
import { loadPrivateKey, signFile } from '../../lib/sign.js';
import { builtXen, runKeys, XEN } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';

const GRUB_SIGNED = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed';
const GRUB_MODULES = '/usr/lib/grub/x86_64-efi/multiboot2.mod';

const work = mkdtempSync(join(tmpdir(), 'diskless-xen-uefi-'));
const images = join(work, 'images');
const skip =
  netnsAvailable() ??
  qemuMissing() ??
  ovmfMissing() ??
  (existsSync(GRUB_SIGNED) ? undefined : `${GRUB_SIGNED} is missing (apt-get install grub-efi-amd64-signed)`) ??
  (existsSync(GRUB_MODULES) ? undefined : `${GRUB_MODULES} is missing (apt-get install grub-efi-amd64-bin)`) ??
  (spawnSync('sh', ['-c', 'command -v mmdebstrap && command -v mksquashfs']).status !== 0 ? 'mmdebstrap/mksquashfs missing (scripts/install-deps.sh)' : undefined);

const MAC = '52:54:00:7a:00:03';
const inventory = `cluster: xenuefi
network:
  subnet: 10.74.0.0/24
servers: [10.74.0.1]
nodes:
  - name: udom0
    mac: "${MAC}"
    ip: 10.74.0.13
    role: xen-dom0
    firmware: uefi
    image: ${XEN}
    xenArgs: dom0_mem=768M,max:768M console=com1 com1=115200,8n1
`;

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+) hypervisor=(\S+) secureboot=(\S+)\n/;

interface Ev { time: string; kind: string; node?: string; type?: string; bootfile?: string; file?: string; status?: string; step?: string; path?: string }

if (skip) {
  test('Xen dom0 on UEFI', () => need(skip));
} else {
  let ns: Netns;
  let served: ReturnType<typeof watchOutput>;
  let version: string;

  test.before(async () => {
    version = builtXen(images).version; // the run's one xen-dom0 build, shared with boot.test.ts
    ns = createNetns('xenuefi');
    bootNetwork(ns, '10.74.0.1/24', 1);
    writeFileSync(join(work, 'cluster.yaml'), inventory);
    await signFile(join(work, 'cluster.yaml'), await loadPrivateKey(runKeys().key));
    const serve = ns.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'),
        '--images', images, '--lease-file', join(work, 'leases.json'), '--log-format', 'json', '--trust', runKeys().pub],
      { cwd: projectRoot() },
    );
    served = watchOutput(serve);
    await served.waitFor(/serving cluster xenuefi as 10\.74\.0\.1/, 30_000, 'diskless serve');
  });

  test.after(async () => {
    await ns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('a Xen dom0 on OVMF boots by PXE -> GRUB multiboot2 (xen + dom0 kernel and initrd as modules) to node-up, diskless', async () => {
    const uefiVars = copyOvmfVars(work, 'uefi');
    const started = Date.now();
    // Under TCG the guest CPU must not offer SMAP, or dom0 faults on its first page fault (as on BIOS).
    // OVMF's own PXE client: a virtio NIC with no option ROM (OVMF has no e1000 driver).
    const m = watchOutput(startNode(ns, { tap: 'tap0', mac: MAC, nic: 'virtio', romfile: '', firmware: 'uefi', uefiVars, memMb: 1536, cpu: 'max,-smap' }));
    const up = await m.waitFor(NODE_UP, 900_000, 'the UEFI Xen dom0 to come up');
    const secs = (Date.now() - started) / 1000;
    assert.is(up[1], 'udom0');
    assert.is(up[2], '10.74.0.13/24');
    assert.is(up[3], XEN);
    assert.is(up[5], 'overlay', '/ is an overlay');
    assert.is(up[6], 'squashfs,ro', 'its lower layer is the shared read-only squashfs');
    assert.is(up[7], 'tmpfs', 'its upper layer is RAM');
    assert.match(up[8]!, /^xen:.*control_d/, 'the dom0 runs under Xen with control_d');
    assert.is(up[9], 'off', 'Secure Boot off (Debian\'s Xen is unsigned)');
    const log = m.log();
    assert.match(log, /Xen version 4\.17/);
    assert.match(log, /\(XEN\) Bootloader: GRUB/, 'Xen was loaded by GRUB');
    assert.match(log, /\(XEN\) EFI RAM map:/, 'Xen ran on UEFI (its memory map from EFI, not the BIOS e820)');

    const events = served.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
    const dhcp = events.filter((e) => e.kind === 'dhcp' && e.node === 'udom0');
    assert.ok(dhcp.some((e) => e.bootfile === 'grubx64.efi'), `DHCP offered GRUB: ${JSON.stringify(dhcp)}`);
    // Each step of the chain, in order, as the replica's TFTP events name them.
    const steps = events.filter((e) => e.kind === 'tftp' && e.status === 'done').map((e) => `${e.step ?? '-'} ${e.file}`);
    const want = [
      'grub grubx64.efi',
      'grub.cfg grub/grub.cfg',
      'node-cfg boot/52-54-00-7a-00-03.grub.cfg',
      'grub-module grub/x86_64-efi/multiboot2.mod',
      `xen images/${XEN}/${version}/xen`,
      `kernel images/${XEN}/${version}/vmlinuz`,
      `initrd images/${XEN}/${version}/initrd.img`,
    ];
    assert.equal([...new Set(steps.filter((s) => want.includes(s)))], want, `the chain over TFTP, in order: ${steps.join(', ')}`);
    assert.not.ok(events.some((e) => /ipxe\.efi/.test(e.file ?? e.path ?? e.bootfile ?? '')), 'no iPXE on the way (iPXE EFI cannot multiboot)');
    // Boot time split into phases, from the replica's own events (each at the end of its transfer).
    const at = (pred: (e: Ev) => boolean) => {
      const e = events.find(pred);
      return e ? ((Date.parse(e.time) - started) / 1000).toFixed(1) : '?';
    };
    const done = (step: string) => (e: Ev) => e.kind === 'tftp' && e.status === 'done' && e.step === step;
    console.log(
      `boot udom0 (xen, uefi, virtio without ROM): up in ${secs.toFixed(1)} s: first DHCP ack ${at((e) => e.kind === 'dhcp' && e.type === 'ack')} s, ` +
        `GRUB ${at(done('grub'))} s, xen ${at(done('xen'))} s, kernel+initrd ${at(done('initrd'))} s, ` +
        `root image ${at((e) => e.kind === 'http' && !!e.path?.endsWith('/root.squashfs'))} s`,
    );
  });
}

test.run();
