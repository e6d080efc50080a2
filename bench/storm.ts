// Boot storms: N simulated nodes (tools/storm) powered on at once, each doing a PXE
// DHCP exchange (broadcast, real PXE timers: 4, 8, 16, 32 s), then what iPXE does:
// fetch its boot script over HTTP and download kernel and initrd. Time until every
// node has booted, against 1 and 3 `diskless serve` replicas and against dnsmasq
// (DHCP) + busybox httpd (script and files) in one namespace, same run.
// Topology: a hub namespace with a bridge holds the nodes (one runner process);
// each server is its own namespace joined to the bridge by a veth.
// Usage: node --import tsx/esm bench/storm.ts [--sizes 100,500] [--concurrency 0 (all)] [--runs 3]
//    or: bench/storm.ts --images DIR --before NAME --after NAME (two images, root fetched too)
//        node --import tsx/esm bench/storm.ts --page 20 [--page-clients chromium|sse] [--sizes 500] [--runs 5]   (the status page's cost; storm-page.ts)
// Writes bench/results/storm.json.
//
// Fairness. dnsmasq's lease file lives on tmpfs (no fsync cost; see bench/dhcp.ts) and
// its lease limit is above the node count. Its boot scripts are static files holding
// the same script our template renders, with the one server as the only replica;
// dnsmasq gives every node one boot-file URL with ${mac:hexhyp}, which iPXE expands.
//
// Our replicas run with their DHCP rate limits on (pxe/dhcp/limits.ts defaults); each row
// counts the packets they dropped (/status dhcpLimited), which must stay 0 for a storm of
// legitimate nodes. The previous results file is compared against: each set-up's median,
// and our speed-up over dnsmasq (which cancels out how busy the machine was).
// With --images DIR --before NAME --after NAME: two real images compared instead (bench/storm-images.ts).
if (process.argv.includes('--images')) {
  await import('./storm-images.js');
  process.exit(process.exitCode ?? 0);
}
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeImages } from '../tools/images.js';
import { nodeMac, startStorm, topology } from '../tools/storm/netns.js';
import { stop, watchLines } from '../host/output.js';
import { projectRoot } from '../lib/paths.js';
import type { StormResult } from '../tools/storm/storm.js';
import type { ChildProcess } from 'node:child_process';
import { macDashes } from '../pxe/dhcp/boot.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
// --page N: only the status page's cost (bench/storm-page.ts): N open pages during a --sizes storm.
if (process.argv.includes('--page')) {
  const { pageBench } = await import('./storm-page.js');
  await pageBench({ viewers: Number(arg('page', '20')), nodes: Number(arg('sizes', '500')), runs: Number(arg('runs', '5')), clients: arg('page-clients', 'chromium') === 'sse' ? 'sse' : 'chromium' });
  process.exit(0);
}
const sizes = arg('sizes', '100,500').split(',').map(Number);
const concurrency = Number(arg('concurrency', '0')) || undefined;
/** Rounds of every set-up, interleaved; ratios use each set-up's median. */
const runs = Number(arg('runs', '3'));
const IPS = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
const HUB = '10.77.0.100';
const maxN = Math.max(...sizes);
const nodes = Array.from({ length: maxN }, (_, i) => ({ name: `n${i}`, mac: nodeMac(i), ip: `10.77.${10 + Math.floor(i / 200)}.${10 + (i % 200)}` }));

/** One storm's result as the bench reports it: the storm's own figures plus the bench's checks. */
interface Row extends Pick<StormResult, 'booted' | 'failed' | 'total' | 'dhcp' | 'script' | 'files' | 'retransmits' | 'reboots'> {
  server: string;
  clients: number;
  /** First DISCOVER to last node booted. */
  seconds: number;
  wrong: number;
  /** UDP datagrams the kernel dropped for a full socket receive buffer (Udp RcvbufErrors), nodes' side and servers' side. */
  udpDropped: { nodes: number; servers: number };
  /** Ours: DHCP packets the replicas' rate limits dropped during the storm. */
  limited?: number;
}

/** Udp RcvbufErrors of a namespace (/proc/net/snmp is per network namespace). */
function rcvbufErrors(ns: { exec(argv: string[]): { stdout: string } }): number {
  const udp = ns.exec(['cat', '/proc/net/snmp']).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = udp.map((l) => l.split(/\s+/));
  return Number(values?.[names?.indexOf('RcvbufErrors') ?? -1] ?? 0);
}
const drops = () => ({ nodes: rcvbufErrors(topo.hub), servers: topo.replicas.reduce((n, ns) => n + rcvbufErrors(ns), 0) });

const loadBefore = +loadavg()[0]!.toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'dl-bench-storm-'));
const img = makeImages();
const a = img.manifest.artifacts;
const topo = topology(IPS, `${HUB}/16`);
// topology() gives replicas a /24; nodes' addresses are in the /16.
for (const [i, ns] of topo.replicas.entries()) {
  ns.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
  ns.exec(['ip', 'addr', 'add', `${IPS[i]}/16`, 'dev', 'eth0']);
}
const rows: Row[] = [];

/** DHCP packets the rate limits of the replicas at `ips` dropped so far (their /status). */
function limitedAt(ips: string[]): number {
  let n = 0;
  for (const ip of ips) {
    const s = JSON.parse(topo.hub.exec(['curl', '-sf', `http://${ip}/status`]).stdout) as { dhcpLimited?: { mac: number; source: number } };
    n += (s.dhcpLimited?.mac ?? 0) + (s.dhcpLimited?.source ?? 0);
  }
  return n;
}

async function storms(label: string, replicas?: string[]) {
  for (const n of sizes) {
    const want = new Map(nodes.slice(0, n).map((x) => [x.mac, x.ip]));
    const limitedBefore = replicas ? limitedAt(replicas) : 0;
    const before = drops();
    const s = await startStorm(topo.hub, { transport: 'broadcast', localAddress: HUB, macs: [...want.keys()], concurrency, timeScale: 1, maxBoots: 3 });
    const r: StormResult = await s.result(300_000);
    await stop(s.child);
    const after = drops();
    const udpDropped = { nodes: after.nodes - before.nodes, servers: after.servers - before.servers };
    const wrong = r.clients.filter((c) => c.ok && (c.address !== want.get(c.mac) || c.files.find((f) => f.what === 'kernel')?.sha256 !== a.kernel!.sha256 || c.files.find((f) => f.what === 'initrd')?.sha256 !== a.initrd!.sha256)).length;
    const row: Row = { server: label, clients: n, booted: r.booted, failed: r.failed, seconds: +(r.elapsedMs / 1000).toFixed(3), total: r.total, dhcp: r.dhcp, script: r.script, files: r.files, retransmits: r.retransmits, reboots: r.reboots, wrong, udpDropped };
    if (replicas) row.limited = limitedAt(replicas) - limitedBefore;
    rows.push(row);
    console.error(`${label} x${n}: ${r.booted}/${n} in ${row.seconds} s (p95 ${r.total?.p95} ms, ${r.retransmits} retransmits, UDP dropped ${JSON.stringify(udpDropped)}, ${wrong} wrong${replicas ? `, ${row.limited} rate-limited` : ''})`);
    for (const c of r.clients.filter((c) => !c.ok).slice(0, 5)) console.error(`  FAILED ${c.mac}: ${c.error}`);
  }
}

async function diskless(k: number) {
  const servers = IPS.slice(0, k);
  const inv = join(work, `cluster-${k}.yaml`);
  writeFileSync(inv, `cluster: storm\nnetwork:\n  subnet: 10.77.0.0/16\nservers: [${servers.join(', ')}]\ndefaults: { image: ${img.name} }\nnodes:\n` + nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n') + '\n');
  const kids: ChildProcess[] = [];
  for (let i = 0; i < k; i++) {
    const dir = join(work, `d${k}-r${i}`);
    mkdirSync(join(dir, 'images'), { recursive: true });
    cpSync(img.root, join(dir, 'images'), { recursive: true, verbatimSymlinks: true });
    const child = topo.replicas[i]!.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', join(dir, 'images'), '--address', IPS[i]!,
        '--no-tftp', '--sync-interval', '0', '--lease-file', join(dir, 'leases.json'), '--log-format', 'json',
        // Every simulated node fetches from the one hub address; real nodes each have their own.
        '--http-max-per-client', '100000'],
      // Event lines are not read here; send them nowhere so a full pipe cannot stall a replica.
      { cwd: projectRoot(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    kids.push(child);
  }
  // With stdout ignored, readiness is the HTTP service answering.
  for (const ip of servers) {
    for (let t = 0; ; t++) {
      if (topo.hub.exec(['curl', '-sf', '-o', '/dev/null', `http://${ip}/status`], { allowFail: true }).code === 0) break;
      if (t > 150) throw new Error(`replica ${ip} did not start`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await storms(k === 1 ? 'diskless x1' : `diskless x${k}`, servers);
  } finally {
    for (const c of kids) await stop(c);
  }
}

async function dnsmasq() {
  const ns = topo.replicas[0]!;
  const www = join(work, 'www');
  const base = `/images/${img.name}/${img.version}`;
  mkdirSync(join(www, 'boot'), { recursive: true });
  cpSync(img.dir, join(www, base), { recursive: true });
  for (const n of nodes) {
    const kernel = `http://${IPS[0]}${base}/${a.kernel!.file}`;
    const initrd = `http://${IPS[0]}${base}/${a.initrd!.file}`;
    writeFileSync(join(www, 'boot', `${macDashes(n.mac)}.ipxe`),
      `#!ipxe\necho diskless: ${n.name} (${n.ip}) boots ${img.name} ${img.version}\n:replica0\necho diskless: fetching from ${IPS[0]}\n` +
      `kernel ${kernel} initrd=initrd.img ${img.manifest.cmdline} diskless.name=${n.name} || goto failed\ninitrd --name initrd.img ${initrd} || goto failed\nboot || goto failed\n` +
      `:failed\necho diskless: no replica could boot ${n.name}; retrying in 10 s\nsleep 10\ngoto replica0\n`);
  }
  const hosts = join(work, 'hosts');
  writeFileSync(hosts, nodes.map((n) => `${n.mac},${n.ip}`).join('\n') + '\n');
  const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/dl-bench-storm-') : work;
  const httpd = ns.spawn(['busybox', 'httpd', '-f', '-p', `${IPS[0]}:80`, '-h', www]);
  const d = ns.spawn([
    'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces',
    '--dhcp-range=10.77.0.0,static,255.255.0.0', `--dhcp-hostsfile=${hosts}`, '--no-ping', '--dhcp-authoritative', `--dhcp-lease-max=${nodes.length * 2}`,
    `--dhcp-leasefile=${join(shm, 'dnsmasq.leases')}`, `--dhcp-boot=http://${IPS[0]}/boot/\${mac:hexhyp}.ipxe`,
    `--pid-file=${join(work, 'dnsmasq.pid')}`, '--user=root', '--quiet-dhcp',
  ]);
  const w = watchLines(d);
  try {
    for (let t = 0; ; t++) {
      if (topo.hub.exec(['curl', '-sf', '-o', '/dev/null', `http://${IPS[0]}/boot/${macDashes(nodes[0]!.mac)}.ipxe`], { allowFail: true }).code === 0) break;
      if (t > 50) throw new Error(`busybox httpd did not start: ${w.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    if (d.exitCode !== null) throw new Error(`dnsmasq exited: ${w.stderr()}`);
    await storms('dnsmasq + busybox httpd');
  } finally {
    await stop(d);
    await stop(httpd);
    if (shm !== work) rmSync(shm, { recursive: true, force: true });
  }
}

try {
  for (let i = 0; i < runs; i++) {
    await dnsmasq();
    await diskless(1);
    await diskless(3);
  }
} finally {
  await topo.destroy();
  rmSync(work, { recursive: true, force: true });
  rmSync(img.root, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const setups = [...new Set(rows.map((r) => r.server))];
const summary = sizes.flatMap((n) =>
  setups.map((server) => {
    const rs = rows.filter((r) => r.server === server && r.clients === n);
    return { server, clients: n, runs: rs.length, medianSeconds: median(rs.map((r) => r.seconds)), allSeconds: rs.map((r) => r.seconds), failed: rs.reduce((k, r) => k + r.failed + r.wrong, 0) };
  }),
);
const ratios: Record<string, number> = {};
for (const n of sizes) {
  const base = summary.find((r) => r.server.startsWith('dnsmasq') && r.clients === n);
  for (const r of summary.filter((r) => r.clients === n && !r.server.startsWith('dnsmasq'))) {
    if (base) ratios[`${r.server} / dnsmasq, ${n} nodes`] = +(base.medianSeconds / r.medianSeconds).toFixed(2);
  }
}
const resultsFile = join(projectRoot(), 'bench/results/storm.json');
type Summary = (typeof summary)[number];
const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as { date: string; summary: Summary[]; speedupOverDnsmasq: Record<string, number> }) : undefined;
// Above 1: faster now. Speed-ups over dnsmasq compared too, as the machine's load moves both.
const againstPrevious = previous && {
  date: previous.date,
  medianSeconds: Object.fromEntries(summary.flatMap((r) => {
    const p = previous.summary.find((x) => x.server === r.server && x.clients === r.clients);
    return p ? [[`${r.server}, ${r.clients} nodes`, +(p.medianSeconds / r.medianSeconds).toFixed(2)]] : [];
  })),
  speedupOverDnsmasq: Object.fromEntries(Object.entries(ratios).filter(([k]) => previous.speedupOverDnsmasq[k]).map(([k, v]) => [k, +(v / previous.speedupOverDnsmasq[k]!).toFixed(2)])),
};
const limitedTotal = rows.reduce((n, r) => n + (r.limited ?? 0), 0);
const three500 = summary.find((r) => r.server === 'diskless x3' && r.clients === 500);
const dns500 = summary.find((r) => r.server.startsWith('dnsmasq') && r.clients === 500);
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
  concurrency: concurrency ?? 'all',
  timers: 'real PXE timers (DISCOVER/REQUEST retransmit at 4, 8, 16, 32 s)',
  image: { kernelBytes: a.kernel!.size, initrdBytes: a.initrd!.size },
  runs,
  summary,
  rows,
  // dnsmasq's time over ours: above 1, ours finished first.
  speedupOverDnsmasq: ratios,
  goal: '3 replicas boot a 500-node storm faster than one dnsmasq, no node fails',
  goalMet: !!three500 && !!dns500 && three500.medianSeconds < dns500.medianSeconds && three500.failed === 0,
  /** DHCP packets of the storms' nodes that our rate limits dropped, all rows: must be 0. */
  rateLimited: limitedTotal,
  againstPrevious,
};
mkdirSync(join(projectRoot(), 'bench/results'), { recursive: true });
writeFileSync(resultsFile, `${JSON.stringify(result, null, 2)}\n`);
console.log('| server | nodes | booted | failed | all booted (s) | median boot (ms) | p95 (ms) | max (ms) | DHCP retransmits | UDP drops nodes/servers | reboots |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.server} | ${r.clients} | ${r.booted} | ${r.failed} | ${r.seconds} | ${r.total?.median ?? '-'} | ${r.total?.p95 ?? '-'} | ${r.total?.max ?? '-'} | ${r.retransmits} | ${r.udpDropped.nodes}/${r.udpDropped.servers} | ${r.reboots} |`);
console.log('\n| server | nodes | median time until all booted (s) | each run (s) | failed or wrong, all runs |');
console.log('| --- | ---: | ---: | --- | ---: |');
for (const r of summary) console.log(`| ${r.server} | ${r.clients} | ${r.medianSeconds} | ${r.allSeconds.join(', ')} | ${r.failed} |`);
for (const [k, v] of Object.entries(ratios)) console.log(`speed-up ${k}: ${v}`);
console.log(`goal (${result.goal}): ${result.goalMet ? 'met' : 'not met'}`);
console.log(`DHCP packets dropped by our rate limits: ${limitedTotal}`);
if (againstPrevious) console.log(`against ${againstPrevious.date}: ${JSON.stringify(againstPrevious)}`);
if (limitedTotal) {
  console.error('the DHCP rate limits dropped packets of legitimate storm nodes: the defaults are wrong');
  process.exitCode = 1;
}
