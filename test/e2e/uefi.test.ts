// UEFI network boot, end to end (QEMU TCG, the run's debian image): two `diskless serve`
// replicas on one bridge, both with the default --ipxe-dir (Debian's ipxe.efi is a link to
// /boot), one of them --no-tftp. Four machines boot at once: OVMF's own PXE client (arch 7,
// a virtio NIC with no ROM), OVMF's UEFI HTTP boot (arch 16, `firmware: uefi-http`), OVMF
// with iPXE's EFI ROM on the NIC, and a BIOS PXE ROM. The replica without TFTP must leave
// the TFTP clients to the other one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addTap, hubTopology, type Hub } from '../../host/bridge.js';
import { createNetns, netnsAvailable, veth, type Netns } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { copyOvmfVars, EFI_ROMS, ovmfMissing, qemuMissing, startNode, type PxeNode } from '../../host/qemu.js';
import { radvdMissing, startRadvd } from '../../host/radvd.js';
import { projectRoot } from '../../lib/paths.js';
import { builtDebian } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';
import { runPxeClient } from '../pxe/dhcp/nstools.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-uefi-'));
const images = join(work, 'images');
const skip = netnsAvailable() ?? qemuMissing() ?? ovmfMissing() ?? radvdMissing();

/** r0 serves TFTP; r1 is started with --no-tftp. */
const IPS = ['10.76.0.1', '10.76.0.2'];
const PROBE_MAC = '52:54:00:76:00:29';

interface Machine { name: string; mac: string; ip: string; firmware?: string; qemu: Omit<PxeNode, 'tap' | 'mac'> }
const MACHINES: Machine[] = [
  // (a) OVMF's own PXE client: no firmware in the inventory, option 93 (arch 7) decides.
  { name: 'uefi-pxe', mac: '52:54:00:76:00:21', ip: '10.76.0.21', qemu: { nic: 'virtio', firmware: 'uefi', romfile: '' } },
  // (b) UEFI HTTP boot: its PXE attempt gets no boot file, IPv6 PXE is off, so OVMF moves on to HTTP boot.
  { name: 'uefi-http', mac: '52:54:00:76:00:22', ip: '10.76.0.22', firmware: 'uefi-http', qemu: { nic: 'virtio', firmware: 'uefi', romfile: '', fwCfg: { 'opt/org.tianocore/IPv6PXESupport': 'n' } } },
  // (c) iPXE's EFI option ROM on the NIC.
  { name: 'uefi-rom', mac: '52:54:00:76:00:23', ip: '10.76.0.23', firmware: 'uefi', qemu: { nic: 'virtio', firmware: 'uefi', romfile: EFI_ROMS.virtio } },
  // (d) a BIOS PXE ROM: only the replica with TFTP may answer it.
  { name: 'bios', mac: '52:54:00:76:00:24', ip: '10.76.0.24', qemu: { nic: 'e1000' } },
];

const inventory = `cluster: uefi
network:
  subnet: 10.76.0.0/24
servers: [${IPS.join(', ')}]
defaults:
  image: debian-bookworm-amd64
nodes:
${MACHINES.map((m) => `  - { name: ${m.name}, mac: "${m.mac}", ip: ${m.ip}${m.firmware ? `, firmware: ${m.firmware}` : ''} }`).join('\n')}
  - { name: probe, mac: "${PROBE_MAC}", ip: 10.76.0.29 }
`;

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+)[^\n]*\n/;

interface Ev { time: string; kind: string; node?: string; type?: string; arch?: number; ipxe?: boolean; bootfile?: string; file?: string; path?: string; status?: string | number; client?: string; message?: string }
type Served = ReturnType<typeof watchOutput>;
const events = (s: Served): Ev[] => s.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);

if (skip) {
  test('UEFI network boot end to end', () => need(skip));
} else {
  let topo: Hub;
  let client: Netns | undefined;
  const served: Served[] = [];

  test.before(async () => {
    builtDebian(images);
    topo = hubTopology(IPS.map((ip) => `${ip}/24`));
    // Router advertisements, as on a normal network: without them iPXE waits ~15 s for IPv6.
    startRadvd(topo.replicas[0]!, 'eth0', join(work, 'radvd.conf'));
    MACHINES.forEach((_, i) => addTap(topo.hub, `tapu${i}`, 'br0'));
    for (const [i, ns] of topo.replicas.entries()) {
      const dir = join(work, `r${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cluster.yaml'), inventory);
      cpSync(join(images, 'debian-bookworm-amd64'), join(dir, 'images', 'debian-bookworm-amd64'), { recursive: true, verbatimSymlinks: true });
      // The default --ipxe-dir (/usr/lib/ipxe), as a new user would run it.
      const child = ns.spawn(
        ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dir, 'cluster.yaml'), '--images', join(dir, 'images'),
          '--address', IPS[i]!, '--sync-interval', '0', '--lease-file', join(dir, 'leases.json'), '--log-format', 'json', ...(i === 1 ? ['--no-tftp'] : [])],
        { cwd: projectRoot() },
      );
      served.push(watchOutput(child));
    }
    await Promise.all(served.map((s, i) => s.waitFor(/serving cluster uefi/, 60_000, `replica ${IPS[i]}`)));
  });

  test.after(async () => {
    await client?.destroy();
    await topo?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('each replica says at start which firmware it can boot, with and without TFTP', () => {
    const line = (s: Served) => events(s).find((e) => e.kind === 'service' && e.message?.startsWith('boots: '))?.message ?? '';
    assert.match(line(served[0]!), /boots: .*BIOS PXE \(undionly\.kpxe over TFTP\), UEFI PXE \(ipxe\.efi over TFTP\), UEFI HTTP boot \(ipxe\.efi over HTTP\)/);
    assert.match(line(served[1]!), /boots: iPXE ROMs \(per-node script over HTTP\), UEFI HTTP boot \(ipxe\.efi over HTTP\); not: BIOS PXE \(no TFTP here: left to a replica with TFTP\)/);
  });

  test('--no-tftp: a BIOS PXE DISCOVER is answered with a TFTP boot file by the replica with TFTP only', async () => {
    client = createNetns('uclient');
    veth(topo.hub, 'hubc', client, 'eth0');
    topo.hub.exec(['ip', 'link', 'set', 'hubc', 'master', 'br0']);
    topo.hub.exec(['ip', 'link', 'set', 'hubc', 'up']);
    client.exec(['ip', 'link', 'set', 'eth0', 'address', PROBE_MAC]);
    client.exec(['ip', 'link', 'set', 'eth0', 'up']);
    // It sends again every second, so both replicas answer it (not only its first responder).
    const r = await runPxeClient(client, { iface: 'eth0', mac: PROBE_MAC, collectMs: 4000 });
    const from = (ip: string) => r.offers.filter((o) => o.serverId === ip);
    assert.ok(from(IPS[0]!).length > 0, `an offer from the replica with TFTP: ${JSON.stringify(r)}`);
    assert.ok(from(IPS[0]!).every((o) => o.file === 'undionly.kpxe' && o.siaddr === IPS[0]), JSON.stringify(r.offers));
    assert.equal(from(IPS[1]!), [], 'nothing from the replica without TFTP');
  });

  test('OVMF PXE, OVMF HTTP boot, iPXE EFI ROM and BIOS PXE nodes boot at once to node-up', async () => {
    const started = Date.now();
    const machines = MACHINES.map((m, i) => {
      const vars = m.qemu.firmware && m.qemu.firmware !== 'bios' ? copyOvmfVars(work, m.qemu.firmware, `${m.name}-vars.fd`) : undefined;
      const child = startNode(topo.hub, { ...m.qemu, tap: `tapu${i}`, mac: m.mac, uefiVars: vars });
      return { ...m, child, out: watchOutput(child) };
    });
    const upAt: Record<string, number> = {};
    try {
      // Each waited for alone, so a failure names every machine that did not come up.
      const results = await Promise.allSettled(
        machines.map(async (m) => {
          const up = await m.out.waitFor(NODE_UP, 600_000, `${m.name} to come up`);
          upAt[m.name] = (Date.now() - started) / 1000;
          if (m.child.pid) process.kill(m.child.pid, 'SIGTERM'); // the others want the CPU
          return up;
        }),
      );
      // The boot path first (it is in the replicas' events whether or not init finished), then node-up.
      bootPathsAsExpected(started, upAt);
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${machines[i]!.name}: ${(r.reason as Error).message.slice(-1500)}`] : []));
      assert.equal(failed, [], `machines that did not come up:\n${failed.join('\n')}`);
      results.forEach((r, i) => {
        const up = (r as PromiseFulfilledResult<RegExpExecArray>).value;
        assert.is(up[1], machines[i]!.name);
        assert.is(up[2], `${machines[i]!.ip}/24`);
      });
    } finally {
      for (const m of machines) if (m.child.exitCode === null && m.child.pid) process.kill(m.child.pid, 'SIGTERM');
    }
  });

  /** What each machine fetched, and from which replica, by the replicas' boot events. */
  function bootPathsAsExpected(started: number, upAt: Record<string, number>): void {
    const [withTftp, noTftp] = served.map(events) as [Ev[], Ev[]];
    const all = [...withTftp, ...noTftp];
    const of = (evs: Ev[], name: string, ip: string) => evs.filter((e) => e.node === name || e.client?.split(':')[0] === ip);
    const describe = (m: Machine) => of(all, m.name, m.ip).map((e) => `${e.kind} ${e.type ?? ''} ${e.arch ?? ''} ${e.bootfile ?? e.file ?? e.path ?? ''} ${e.status ?? ''}`).join('\n    ');
    for (const m of MACHINES) console.log(`uefi e2e: ${m.name} ${upAt[m.name] ? `up in ${upAt[m.name]!.toFixed(1)} s` : `not up after ${((Date.now() - started) / 1000).toFixed(0)} s`}:\n    ${describe(m)}`);
    const [pxe, http, rom, bios] = MACHINES as [Machine, Machine, Machine, Machine];

    // (a) OVMF's PXE client: arch 7, ipxe.efi sent over TFTP by the replica with TFTP; no HTTP boot fallback.
    const a = of(all, pxe.name, pxe.ip);
    assert.ok(a.some((e) => e.kind === 'dhcp' && e.arch === 7 && e.bootfile === 'ipxe.efi'), `uefi-pxe: offered ipxe.efi for arch 7:\n    ${describe(pxe)}`);
    assert.ok(of(withTftp, pxe.name, pxe.ip).some((e) => e.kind === 'tftp' && e.file === 'ipxe.efi' && e.status === 'done'), `uefi-pxe: ipxe.efi sent over TFTP:\n    ${describe(pxe)}`);
    assert.not.ok(a.some((e) => e.kind === 'dhcp' && e.arch === 16), 'uefi-pxe: no HTTP boot (arch 16) fallback');
    assert.not.ok(a.some((e) => e.kind === 'http' && e.path === '/ipxe/ipxe.efi'), 'uefi-pxe: ipxe.efi not fetched over HTTP');

    // (b) UEFI HTTP boot: arch 16, the ipxe.efi URL, fetched over HTTP; nothing over TFTP.
    const b = of(all, http.name, http.ip);
    assert.ok(b.some((e) => e.kind === 'dhcp' && e.arch === 16 && /^http:\/\/10\.76\.0\.[12]:80\/ipxe\/ipxe\.efi$/.test(e.bootfile ?? '')), `uefi-http: arch 16 got the URL:\n    ${describe(http)}`);
    assert.ok(b.some((e) => e.kind === 'http' && e.path === '/ipxe/ipxe.efi'), 'uefi-http: ipxe.efi fetched over HTTP');
    assert.not.ok(b.some((e) => e.kind === 'tftp'), 'uefi-http: no TFTP');
    assert.not.ok(b.some((e) => e.kind === 'dhcp' && e.arch === 7 && !e.ipxe && e.bootfile), 'uefi-http: its PXE attempt (before iPXE) got no boot file');

    // (c) iPXE's EFI ROM: iPXE asks, and gets its per-node script.
    assert.ok(of(all, rom.name, rom.ip).some((e) => e.kind === 'http' && e.path === `/boot/${rom.mac.replace(/:/g, '-')}.ipxe`), `uefi-rom: script fetched:\n    ${describe(rom)}`);

    // (d) BIOS: QEMU's PXE ROM is iPXE itself, so it gets its script at once (the plain PXE DISCOVER
    // is the probe above); the replica without TFTP never offers a TFTP boot file.
    assert.ok(of(all, bios.name, bios.ip).some((e) => e.kind === 'dhcp' && e.arch === 0 && e.ipxe && /\/boot\/52-54-00-76-00-24\.ipxe$/.test(e.bootfile ?? '')), `bios: iPXE got its script:\n    ${describe(bios)}`);
    for (const m of MACHINES) {
      assert.not.ok(of(noTftp, m.name, m.ip).some((e) => e.kind === 'dhcp' && /^(undionly\.kpxe|ipxe\.efi)$/.test(e.bootfile ?? '') && e.arch !== undefined), `${m.name}: no TFTP boot file from ${IPS[1]}`);
    }
    assert.not.ok(noTftp.some((e) => e.kind === 'tftp'), `${IPS[1]} served no TFTP`);
  }
}

test.run();
