// Boot storm with two images, same run: N simulated nodes (tools/storm) boot at once
// from one `diskless serve` replica and, as the initrd's /init does, fetch the root
// image too. Bytes moved and time until every node has its root, image A against B;
// made for the Ubuntu image before and after the firmware closure (issue 13).
// Usage: node --import tsx/esm bench/storm.ts --images DIR --before NAME --after NAME [--nodes 100] [--runs 1]
// (DIR holds both images as build-image wrote them.) Writes bench/results/storm-images.json.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeMac, startStorm, topology } from '../tools/storm/netns.js';
import { stop } from '../host/output.js';
import { projectRoot } from '../lib/paths.js';
import type { StormResult } from '../tools/storm/storm.js';
import type { Manifest } from '../store/manifest.js';

const arg = (name: string, def?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : def;
  if (v === undefined) throw new Error(`bench/storm.ts --images needs --${name}`);
  return v;
};
const imagesDir = arg('images');
const names = { before: arg('before'), after: arg('after') };
const n = Number(arg('nodes', '100'));
const runs = Number(arg('runs', '1'));
const IP = '10.77.0.1';
const HUB = '10.77.0.100';
const nodes = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, mac: nodeMac(i), ip: `10.77.${10 + Math.floor(i / 200)}.${10 + (i % 200)}` }));

const manifestOf = (name: string) => {
  const version = readlinkSync(join(imagesDir, name, 'current'));
  return { version, m: JSON.parse(readFileSync(join(imagesDir, name, version, 'manifest.json'), 'utf8')) as Manifest };
};
const images = { before: manifestOf(names.before), after: manifestOf(names.after) };

const loadBefore = +loadavg()[0]!.toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'dl-bench-storm-img-'));
const topo = topology([IP], `${HUB}/16`);
topo.replicas[0]!.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
topo.replicas[0]!.exec(['ip', 'addr', 'add', `${IP}/16`, 'dev', 'eth0']);
// The replica's images folder: both images, hard-linked where the file system allows.
const served = join(work, 'images');
for (const name of Object.values(names)) cpSync(join(imagesDir, name), join(served, name), { recursive: true, verbatimSymlinks: true });

interface Row { image: string; which: 'before' | 'after'; nodes: number; booted: number; failed: number; wrong: number; seconds: number; bytesMoved: number; rootBytes: number }
const rows: Row[] = [];

async function storm(which: 'before' | 'after') {
  const name = names[which];
  const { m } = images[which];
  const inv = join(work, `cluster-${which}.yaml`);
  writeFileSync(inv, `cluster: storm\nnetwork:\n  subnet: 10.77.0.0/16\nservers: [${IP}]\ndefaults: { image: ${name} }\nnodes:\n` + nodes.map((x) => `  - { name: ${x.name}, mac: "${x.mac}", ip: ${x.ip} }`).join('\n') + '\n');
  const child = topo.replicas[0]!.spawn(
    ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', served, '--address', IP,
      '--no-tftp', '--sync-interval', '0', '--lease-file', join(work, `leases-${which}.json`), '--log-format', 'json', '--http-max-per-client', '100000'],
    { cwd: projectRoot(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    for (let t = 0; topo.hub.exec(['curl', '-sf', '-o', '/dev/null', `http://${IP}/status`], { allowFail: true }).code !== 0; t++) {
      if (t > 150) throw new Error(`the replica did not start`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const s = await startStorm(topo.hub, { transport: 'broadcast', localAddress: HUB, macs: nodes.map((x) => x.mac), timeScale: 1, maxBoots: 3, rootFile: m.artifacts.root!.file });
    const r: StormResult = await s.result(3_600_000);
    await stop(s.child);
    const sha = (k: string) => m.artifacts[k]!.sha256;
    const wrong = r.clients.filter((c) => c.ok && ['kernel', 'initrd', 'root'].some((k) => c.files.find((f) => f.what === k)?.sha256 !== sha(k))).length;
    const bytesMoved = r.clients.reduce((t, c) => t + c.files.reduce((b, f) => b + f.bytes, 0), 0);
    const row: Row = { image: name, which, nodes: n, booted: r.booted, failed: r.failed, wrong, seconds: +(r.elapsedMs / 1000).toFixed(1), bytesMoved, rootBytes: m.artifacts.root!.size };
    rows.push(row);
    console.error(`${which} (${name}): ${r.booted}/${n} roots fetched in ${row.seconds} s, ${(bytesMoved / 1e9).toFixed(2)} GB moved, ${wrong} wrong`);
  } finally {
    await stop(child);
  }
}

try {
  for (let i = 0; i < runs; i++) {
    await storm('before');
    await storm('after');
  }
} finally {
  await topo.destroy();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const sum = (which: 'before' | 'after') => {
  const rs = rows.filter((r) => r.which === which);
  return { image: names[which], rootBytes: images[which].m.artifacts.root!.size, firmware: images[which].m.firmware ?? 'not recorded (built before the closure)', medianSeconds: median(rs.map((r) => r.seconds)), bytesMoved: median(rs.map((r) => r.bytesMoved)), failedOrWrong: rs.reduce((k, r) => k + r.failed + r.wrong, 0) };
};
const before = sum('before');
const after = sum('after');
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
  setup: `${n} simulated nodes at once, real PXE timers, one diskless serve replica; each node fetches script, kernel, initrd and the root image`,
  runs,
  before,
  after,
  // Above 1: the closure's image is lighter / faster.
  ratios: { bytesMoved: +(before.bytesMoved / after.bytesMoved).toFixed(2), secondsToEveryRoot: +(before.medianSeconds / after.medianSeconds).toFixed(2) },
  rows,
};
mkdirSync(join(projectRoot(), 'bench/results'), { recursive: true });
writeFileSync(join(projectRoot(), 'bench/results/storm-images.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('| image | root image (MB) | nodes | bytes moved (GB) | every root fetched (s) | failed or wrong |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const s of [before, after]) console.log(`| ${s.image} | ${(s.rootBytes / 1e6).toFixed(1)} | ${n} | ${(s.bytesMoved / 1e9).toFixed(2)} | ${s.medianSeconds} | ${s.failedOrWrong} |`);
console.log(`before / after: ${result.ratios.bytesMoved}x the bytes, ${result.ratios.secondsToEveryRoot}x the time`);
if (before.failedOrWrong + after.failedOrWrong) process.exitCode = 1;
