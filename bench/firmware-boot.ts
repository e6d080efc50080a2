// Boot time per firmware, split into phases, against a peer in the same run. One node per
// firmware (bios: SeaBIOS + iPXE ROM; uefi: OVMF's own PXE, ipxe.efi over TFTP; uefi-http:
// OVMF's HTTP boot, arch 16; uefi-secure: OVMF secboot + Microsoft keys, shim -> GRUB ->
// kernel + initrd over TFTP) boots the run's Debian image to its node-up line, QEMU TCG,
// from `diskless serve` and, at the same moment, the same node (same MAC, address, kernel
// command line, files) from the peer: dnsmasq (DHCP + TFTP) + nginx, laid out by
// tools/peer-boot.ts. Each side has its own namespace (bridge 10.77.0.1/24, radvd, one tap
// per firmware), so the two boots see the same machine load; the ratio is ours/peer.
//
// Phase boundaries, measured the same way for both servers (tools/boot-phases/phases.ts):
// tcpdump on the node's tap (packet times from the kernel's clock, mapped onto the bench's
// monotonic clock by one offset) and the node's serial console (each line timed as it
// arrives), both from QEMU's start:
//   dhcp          power-on -> the server's first DHCPACK to the node (firmware start included)
//   loader        -> the node asks for the kernel (iPXE and its script, or shim, GRUB, grub.cfg)
//   kernel+initrd -> the packet with the initrd's last new byte (retransmissions after it do not count)
//   root          -> the same for the root image (kernel start, the initrd's DHCP, download)
//   init          -> "diskless: node-up" on the console (root checked and mounted, the image's init)
// Both sides give the node the same kernel command line (the peer's scripts and GRUB configs are
// fetched from our replica), with no_timer_check: under TCG on a loaded machine the kernel's
// IO-APIC timer check can fail and panic, whoever served it.
// Usage: node --import tsx/esm bench/firmware-boot.ts [--images DIR] [--firmwares bios,uefi-http,...] [--runs 3] [--parallel 1] [--no-save]
//   --parallel N: firmwares booted at once, each as its pair (2N machines).
//   --images: a build-image folder holding debian-bookworm-amd64 (default: build one here).
// Needs root, qemu-system-x86, ovmf, ipxe-qemu, shim-signed, grub-efi-amd64-signed, dnsmasq, nginx, tcpdump, radvd.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createNetns, type Netns } from '../host/netns.js';
import { bootNetwork } from '../host/bridge.js';
import { startRadvd } from '../host/radvd.js';
import { copyOvmfVars, defaultAccel, pxeNodeArgv } from '../host/qemu.js';
import { controlStripper, stop, waitFor, watchOutput } from '../host/output.js';
import { projectRoot } from '../lib/paths.js';
import { run } from '../lib/run.js';
import { median } from './median.js';
import { dnsmasqArgv, nginxConf, peerLayout, writePeerLayout, type Firmware } from '../tools/peer-boot.js';
import { readPcap } from '../tools/boot-phases/pcap.js';
import { consoleMarks, markProblems, networkMarks, phases, PHASES, requests, type Marks, type Phases } from '../tools/boot-phases/phases.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const ALL: Firmware[] = ['bios', 'uefi', 'uefi-http', 'uefi-secure'];
const firmwares = arg('firmwares', ALL.join(',')).split(',') as Firmware[];
const runs = Number(arg('runs', '3'));
const save = !process.argv.includes('--no-save');
const SERVER = '10.77.0.1';
const IMAGE = 'debian-bookworm-amd64';
const BOOT_TIMEOUT_MS = 1_500_000; // TCG on a shared 2-core machine under load
/** Firmwares booted at once (each as a pair, ours and the peer). */
const parallel = Number(arg('parallel', '1'));
const nodes = ALL.map((fw, i) => ({ name: `fw-${fw}`, mac: `52:54:00:77:01:0${i + 1}`, ip: `10.77.0.${11 + i}`, firmware: fw, tap: `tap${i}` }));
type Node = (typeof nodes)[number];
const SIDES = ['ours', 'peer'] as const;
type Side = (typeof SIDES)[number];

/** QEMU for one firmware (host/qemu.ts): SeaBIOS + the iPXE ROM, or OVMF with a fresh vars copy and a NIC with no option ROM. */
function qemuArgv(n: Node, varsDir: string): string[] {
  const accel = defaultAccel();
  if (n.firmware === 'bios') return pxeNodeArgv({ tap: n.tap, mac: n.mac, nic: 'virtio', accel });
  const machine = n.firmware === 'uefi-secure' ? 'uefi-secure' : 'uefi';
  return pxeNodeArgv({
    tap: n.tap, mac: n.mac, nic: 'virtio', accel, firmware: machine, uefiVars: copyOvmfVars(varsDir, machine), romfile: '',
    // UEFI HTTP boot: OVMF's PXE off, so its HTTP boot option is the one that runs.
    fwCfg: n.firmware === 'uefi-http' ? { 'opt/org.tianocore/IPv4PXESupport': 'n', 'opt/org.tianocore/IPv6PXESupport': 'n' } : undefined,
  });
}

const work = mkdtempSync('/var/tmp/dl-bench-fwboot-');
chmodSync(work, 0o755); // nginx's worker (nobody) reads the peer's files under it
const loadBefore = +loadavg()[0]!.toFixed(2);

/** The image folder: --images, else one `build-image debian` here. */
async function imagesDir(): Promise<string> {
  const given = arg('images', '');
  if (given) return given;
  const out = join(work, 'built');
  console.error('building the debian image (build-image debian) ...');
  await run([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'cli/build-image.ts'), 'debian', '--out', out, '--cache-dir', join(work, 'cache')], { cwd: projectRoot() });
  return out;
}

/** A side's namespace: bridge br0 with the server's address, a tap per firmware, router advertisements. */
function sideNetns(side: Side): Netns {
  const ns = createNetns(side);
  bootNetwork(ns, `${SERVER}/24`, nodes.length);
  startRadvd(ns, 'br0', join(work, `radvd-${side}.conf`));
  return ns;
}

async function startOurs(ns: Netns, images: string): Promise<ChildProcess> {
  const inv = join(work, 'cluster.yaml');
  writeFileSync(inv, `cluster: fwboot\nnetwork:\n  subnet: 10.77.0.0/24\nservers: [${SERVER}]\ndefaults: { image: ${IMAGE}, kernelArgs: no_timer_check }\nnodes:\n` +
    nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip}, firmware: ${n.firmware} }`).join('\n') + '\n');
  // Debian's ipxe.efi is a link out of /usr/lib/ipxe, which this replica's TFTP refuses to follow (issue 11): real copies.
  const ipxe = join(work, 'ipxe');
  mkdirSync(ipxe);
  for (const f of ['ipxe.efi', 'snponly.efi', 'undionly.kpxe']) copyFileSync(realpathSync(join('/usr/lib/ipxe', f)), join(ipxe, f));
  const child = ns.spawn(['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', images, '--address', SERVER,
    '--sync-interval', '0', '--lease-file', join(work, 'leases.json'), '--log-format', 'json', '--ipxe-dir', ipxe], { cwd: projectRoot() });
  await watchOutput(child).waitFor(/serving cluster fwboot as 10\.77\.0\.1/, 60_000, 'diskless serve');
  return child;
}

async function startPeer(ns: Netns, ours: Netns, images: string): Promise<void> {
  const version = readlinkSync(join(images, IMAGE, 'current'));
  const dir = join(images, IMAGE, version);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { file: string }> };
  // Scripts and GRUB configs exactly as our replica gives them, over the protocol the node uses.
  const get = (url: string) => ours.exec(['curl', '-sf', url]).stdout;
  const peerNodes = nodes.map((n) => {
    const dashes = n.mac.replace(/:/g, '-');
    return { ...n, ipxeScript: get(`http://${SERVER}/boot/${dashes}.ipxe`), grubCfg: n.firmware === 'uefi-secure' ? get(`tftp://${SERVER}/boot/${dashes}.grub.cfg`) : undefined };
  });
  const grubBootstrap = get(`tftp://${SERVER}/grub/grub.cfg`);
  const peer = join(work, 'peer');
  writePeerLayout(peer, peerLayout({ serverIp: SERVER, image: { name: IMAGE, version, dir, files: Object.values(manifest.artifacts).map((a) => a.file) }, nodes: peerNodes, grubBootstrap }));
  writeFileSync(join(peer, 'nginx.conf'), nginxConf({ serverIp: SERVER, dir: peer }));
  const nginx = watchOutput(ns.spawn(['nginx', '-c', join(peer, 'nginx.conf'), '-p', peer, '-e', 'stderr']));
  const d = ns.spawn(dnsmasqArgv({ iface: 'br0', network: '10.77.0.0', netmask: '255.255.255.0', serverIp: SERVER, nodes, dir: peer }));
  await waitFor(d, /DHCP, static leases only|DHCP, IP range/, 15_000, 'dnsmasq');
  for (let t = 0; ns.exec(['curl', '-sf', '-o', '/dev/null', `http://${SERVER}/boot/${nodes[0]!.mac.replace(/:/g, '-')}.ipxe`], { allowFail: true }).code !== 0; t++) {
    if (t > 50) throw new Error(`nginx did not answer: ${nginx.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tcpdump(ns: Netns, iface: string, file: string, snap: number, filter: string): Promise<ChildProcess> {
  const child = ns.spawn(['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', iface, '-s', String(snap), '-w', file, filter]);
  await waitFor(child, /listening on/, 15_000, 'tcpdump');
  return child;
}

interface Boot {
  firmware: Firmware;
  side: Side;
  run: number;
  marks: Marks;
  phases: Phases;
  problems: string[];
  /** What the node asked for, in order: both sides must take the same path. */
  requests: string[];
  /** The console's last lines, when the boot did not line up. */
  consoleTail?: string[];
}

/** Boot `n` once in `ns`: QEMU to node-up, with its tap captured. */
async function bootOnce(ns: Netns, side: Side, n: Node, round: number, files: { kernel: string; initrd: string; root: string }): Promise<Boot> {
  const tag = `${side}-${n.firmware}-${round}`;
  const [udp, tcp] = [join(work, `${tag}-udp.pcap`), join(work, `${tag}-tcp.pcap`)];
  const dumps = [await tcpdump(ns, n.tap, udp, 0, 'udp'), await tcpdump(ns, n.tap, tcp, 200, 'tcp')];
  const lines: Array<{ ms: number; line: string }> = [];
  const t0 = performance.now();
  const varsDir = join(work, tag);
  mkdirSync(varsDir);
  const qemu = ns.spawn(qemuArgv(n, varsDir));
  let buf = '';
  const strip = controlStripper();
  qemu.stdout!.on('data', (d: Buffer) => {
    const ms = performance.now() - t0;
    buf += strip(d.toString('latin1'));
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const line of parts) lines.push({ ms, line });
  });
  try {
    await watchOutput(qemu).waitFor(/diskless: node-up [^\n]*\n/, BOOT_TIMEOUT_MS, `${n.name} from ${side}`);
  } catch (err) {
    console.error(`${tag}: ${(err as Error).message.slice(0, 3000)}`);
  } finally {
    await stop(qemu);
    await new Promise((r) => setTimeout(r, 300));
    for (const d of dumps) await stop(d);
  }
  // Capture times are the kernel's realtime clock: onto this process's monotonic one, from power-on.
  const toMs = (us: number) => us / 1000 - performance.timeOrigin - t0;
  const packets = [...readPcap(readFileSync(udp)), ...readPcap(readFileSync(tcp))].sort((a, b) => a.us - b.us);
  const marks = { ...networkMarks(packets, n, files, toMs), ...consoleMarks(lines) };
  for (const k of Object.keys(marks) as (keyof Marks)[]) marks[k] = Math.round(marks[k]!);
  const b: Boot = { firmware: n.firmware, side, run: round, marks, phases: phases(marks), problems: markProblems(marks), requests: requests(packets, n.ip, toMs).map((r) => `${r.via} ${r.path}`) };
  if (b.problems.length) b.consoleTail = lines.slice(-25).map((l) => l.line);
  rmSync(udp, { force: true });
  rmSync(tcp, { force: true });
  return b;
}

const spaces: Partial<Record<Side, Netns>> = {};
const boots: Boot[] = [];
async function cleanUp() {
  for (const ns of Object.values(spaces)) await ns.destroy();
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanUp().finally(() => process.exit(130)));
try {
  const images = await imagesDir();
  const version = readlinkSync(join(images, IMAGE, 'current'));
  const manifest = JSON.parse(readFileSync(join(images, IMAGE, version, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { file: string; size: number }> };
  const a = manifest.artifacts;
  const files = { kernel: a.kernel!.file, initrd: a.initrd!.file, root: a.root!.file };
  spaces.ours = sideNetns('ours');
  spaces.peer = sideNetns('peer');
  await startOurs(spaces.ours, images);
  await startPeer(spaces.peer, spaces.ours, images);
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < firmwares.length; i += parallel) {
      const batch = firmwares.slice(i, i + parallel).map((fw) => nodes.find((x) => x.firmware === fw)!);
      const done = await Promise.all(batch.flatMap((n) => SIDES.map((side) => bootOnce(spaces[side]!, side, n, round, files))));
      boots.push(...done);
      for (const b of done) console.error(`${b.firmware} ${b.side} round ${round}: ${JSON.stringify(b.phases)}${b.problems.length ? ` PROBLEMS: ${b.problems.join(', ')}` : ''}`);
      // Saved after every pair: a run cut short keeps what it measured.
      report({ version, sizes: { kernel: a.kernel!.size, initrd: a.initrd!.size, root: a.root!.size } }, false);
    }
  }
  report({ version, sizes: { kernel: a.kernel!.size, initrd: a.initrd!.size, root: a.root!.size } }, true);
} finally {
  await cleanUp();
}

function report(image: { version: string; sizes: Record<string, number> }, final: boolean) {
  const cols = [...PHASES, 'total'] as const;
  type Col = (typeof cols)[number];
  type SideSummary = { boots: number; failed: number } & Record<Col, number | null>;
  const per = (fw: Firmware, side: Side): SideSummary => {
    const all = boots.filter((b) => b.firmware === fw && b.side === side);
    const ok = all.filter((b) => b.problems.length === 0);
    // A boot with marks out of order still has its total (power-on to node-up), not its phases.
    const counted = (c: Col) => (c === 'total' ? all.filter((b) => b.phases.total !== null) : ok);
    return { boots: ok.length, failed: all.length - ok.length, ...(Object.fromEntries(cols.map((c) => [c, median(counted(c).map((b) => b.phases[c]!))])) as Record<Col, number | null>) };
  };
  const summary = ALL.filter((fw) => firmwares.includes(fw)).map((fw) => {
    const ours = per(fw, 'ours');
    const peer = per(fw, 'peer');
    const ratio = Object.fromEntries(cols.map((c) => [c, ours[c] && peer[c] ? +(ours[c]! / peer[c]!).toFixed(2) : null])) as Record<Col, number | null>;
    return { firmware: fw, ours, peer, ratio };
  });
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
    accel: defaultAccel(),
    image: { name: IMAGE, ...image },
    runs,
    roundsDone: Math.max(0, ...boots.map((b) => b.run + 1)),
    method: 'tcpdump on the node tap + serial console lines, one clock; each firmware booted from ours and the peer at the same moment',
    peer: 'dnsmasq (DHCP + TFTP) + nginx (HTTP), tools/peer-boot.ts',
    unit: 'ms, median of the rounds',
    goal: 'ours/peer <= 1.05 for every firmware, total boot time',
    goalMet: summary.every((s) => s.ratio.total !== null && s.ratio.total <= 1.05),
    summary,
    boots,
  };
  if (save) writeFileSync(join(projectRoot(), 'bench/results/firmware-boot.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (!final) return;
  const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
  console.log(`| firmware | side | ${cols.map((c) => (c === 'kernelInitrd' ? 'kernel+initrd' : c)).join(' | ')} | boots ok |`);
  console.log(`| --- | --- | ${cols.map(() => '---:').join(' | ')} | ---: |`);
  for (const r of summary) {
    for (const side of SIDES) console.log(`| ${r.firmware} | ${side === 'ours' ? 'diskless serve' : 'dnsmasq + nginx'} | ${cols.map((c) => s(r[side][c])).join(' | ')} | ${r[side].boots}/${r[side].boots + r[side].failed} |`);
    console.log(`| ${r.firmware} | ours/peer | ${cols.map((c) => (r.ratio[c] === null ? '-' : `${r.ratio[c]}x`)).join(' | ')} | |`);
  }
  console.log(`goal (${result.goal}): ${result.goalMet ? 'met' : 'not met'}`);
}
