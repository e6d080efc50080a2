// bench/storm.ts --page N: what the status page costs a boot storm. One `diskless serve`
// in a namespace; a storm of `nodes` simulated nodes (playing the initrd too, so every
// node also fetches its root image and reports init and up) is run again and again,
// alternately with N real Chromium pages open on the replica's `/` (each holding an
// /events stream and polling /cluster) and with those pages on about:blank. Same
// replica, same run; the cost is the median time until every node is up, with over
// without. The browsers run under SCHED_IDLE in an autogroup at nice 19 (tools/browser.ts):
// on an administrator's laptop they would not share the replica's two cores, so their
// rendering is kept from the storm's CPU while everything the replica does for them
// (the files, the stream, /cluster) is counted.
// The replica's own CPU time per storm is reported too (from /proc).
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { makeImages } from '../tools/images.js';
import { holdNodeAddresses, nodeMac, startStorm, topology } from '../tools/storm/netns.js';
import { launchInNetns, type NsBrowser } from '../tools/browser.js';
import { stop } from '../host/output.js';
import { projectRoot } from '../lib/paths.js';
import { median } from './median.js';

const IP = '10.77.0.1';
const HUB = '10.77.0.100';

/** utime + stime of a process, in ms (USER_HZ = 100 on Linux). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * `clients`: 'chromium' opens `viewers` real pages; 'sse' opens `viewers` /events streams
 * (curl) and one real page beside them, for a machine too loaded to give 20 browsers CPU.
 */
export async function pageBench(o: { viewers: number; nodes: number; runs: number; clients?: 'chromium' | 'sse' }): Promise<void> {
  const sse = o.clients === 'sse';
  const loadBefore = +loadavg()[0]!.toFixed(2);
  const work = mkdtempSync(join(tmpdir(), 'dl-bench-page-'));
  const img = makeImages();
  const topo = topology([IP], `${HUB}/16`);
  topo.replicas[0]!.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
  topo.replicas[0]!.exec(['ip', 'addr', 'add', `${IP}/16`, 'dev', 'eth0']);
  const nodes = Array.from({ length: o.nodes }, (_, i) => ({ name: `n${i}`, mac: nodeMac(i), ip: `10.77.${10 + Math.floor(i / 200)}.${10 + (i % 200)}` }));
  // Nodes fetch from their own addresses, so the status model follows each through kernel and root.
  holdNodeAddresses(topo.hub, nodes.map((n) => n.ip));
  const browsers: NsBrowser[] = [];
  const rows: { viewers: number; seconds: number; booted: number; retransmits: number; serveCpuMs: number; pagesCaughtUp?: boolean }[] = [];
  try {
    const inv = join(work, 'cluster.yaml');
    writeFileSync(inv, `cluster: storm\nnetwork:\n  subnet: 10.77.0.0/16\nservers: [${IP}]\ndefaults: { image: ${img.name} }\nnodes:\n` + nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n') + '\n');
    mkdirSync(join(work, 'images'));
    cpSync(img.root, join(work, 'images'), { recursive: true, verbatimSymlinks: true });
    const serve = topo.replicas[0]!.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', join(work, 'images'), '--address', IP,
        '--no-tftp', '--sync-interval', '0', '--lease-file', join(work, 'leases.json'), '--log-format', 'json', '--http-max-per-client', '100000'],
      // The event log is not read here: nowhere, so a full pipe cannot stall the replica (DISKLESS_BENCH_LOG: a file).
      { cwd: projectRoot(), stdio: ['ignore', process.env.DISKLESS_BENCH_LOG ? 'pipe' : 'ignore', 'ignore'] },
    );
    if (process.env.DISKLESS_BENCH_LOG) serve.stdout!.pipe(createWriteStream(process.env.DISKLESS_BENCH_LOG));
    for (let t = 0; topo.hub.exec(['curl', '-sf', '-o', '/dev/null', `http://${IP}/status`], { allowFail: true }).code !== 0; t++) {
      if (t > 150) throw new Error('the replica did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const pages: Page[] = [];
    for (let i = 0; i < (sse ? 1 : o.viewers); i++) {
      const b = await launchInNetns(topo.hub, { idle: true });
      browsers.push(b);
      pages.push(await b.browser.newPage());
    }
    console.error(`${pages.length} Chromium pages ready`);
    let readers: ReturnType<typeof topo.hub.spawn>[] = [];
    const open = async () => {
      if (sse) readers = Array.from({ length: o.viewers - 1 }, () => topo.hub.spawn(['curl', '-sN', '-o', '/dev/null', `http://${IP}/events`]));
      await Promise.all(pages.map((p) => p.goto(`http://${IP}/`, { waitUntil: 'load' })));
      // Polled twice a second, not every frame (puppeteer's default), which would keep 20 renderers drawing.
      await Promise.all(pages.map((p) => p.waitForFunction((n) => document.querySelector('#link')?.getAttribute('data-state') === 'live' && document.querySelectorAll('#nodes tbody tr[data-node]').length === n, { timeout: 300_000, polling: 500 }, o.nodes)));
    };
    const allUp = (p: Page) => p.waitForFunction(() => [...document.querySelectorAll('#nodes tbody tr[data-node]')].every((tr) => tr.getAttribute('data-phase') === 'up'), { timeout: 120_000, polling: 1000 }).then(() => true, () => false);
    const storm = async (viewers: number, warmUp = false) => {
      if (viewers) await open();
      // Let the pages' first render and /cluster poll settle before the storm starts.
      await new Promise((r) => setTimeout(r, 2000));
      const cpu0 = cpuMs(serve.pid!);
      const s = await startStorm(topo.hub, { transport: 'broadcast', localAddress: HUB, macs: nodes.map((n) => n.mac), timeScale: 1, maxBoots: 3, httpFromLeased: true, initrd: { rounds: 2, upAfterMs: 0 } });
      const r = await s.result(300_000);
      await stop(s.child);
      const row = { viewers, seconds: +(r.elapsedMs / 1000).toFixed(3), booted: r.booted, retransmits: r.retransmits, serveCpuMs: cpuMs(serve.pid!) - cpu0, pagesCaughtUp: viewers ? (await Promise.all(pages.map(allUp))).every(Boolean) : undefined };
      if (!warmUp) rows.push(row);
      console.error(`${warmUp ? 'warm-up, ' : ''}${viewers} pages: ${r.booted}/${o.nodes} up in ${row.seconds} s, ${r.retransmits} DHCP retransmits, replica CPU ${row.serveCpuMs} ms${viewers ? `, every page shows every node up: ${row.pagesCaughtUp}` : ''}`);
      if (viewers) await Promise.all(pages.map((p) => p.goto('about:blank')));
      for (const c of readers.splice(0)) await stop(c);
    };
    // The first storm finds no leases and a cold replica; it is not counted.
    await storm(0, true);
    // Alternate which goes first, so a drift in the machine's load falls on both.
    for (let i = 0; i < o.runs; i++) for (const v of i % 2 ? [o.viewers, 0] : [0, o.viewers]) await storm(v);
  } finally {
    for (const b of browsers) await b.close();
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  }
  const of = (v: number) => rows.filter((r) => r.viewers === v);
  const without = median(of(0).map((r) => r.seconds)) ?? NaN;
  const withPages = median(of(o.viewers).map((r) => r.seconds)) ?? NaN;
  const cost = +((withPages / without - 1) * 100).toFixed(1);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
    viewers: sse
      ? `${o.viewers} viewers: ${o.viewers - 1} /events streams read by curl and 1 headless Chromium page (SCHED_IDLE), in the nodes' namespace`
      : `${o.viewers} headless Chromium pages (Debian chromium, puppeteer-core) in the nodes' namespace, under SCHED_IDLE in an autogroup at nice 19`,
    nodes: o.nodes,
    storm: 'real PXE timers; each node also fetches its root image, checks its sha256 and reports init and up',
    runs: o.runs,
    rows,
    medianSeconds: { without, with: withPages },
    medianReplicaCpuMs: { without: median(of(0).map((r) => r.serveCpuMs)), with: median(of(o.viewers).map((r) => r.serveCpuMs)) },
    costPercent: cost,
    goal: `${o.viewers} open pages cost a ${o.nodes}-node storm at most 5%`,
    goalMet: cost <= 5 && rows.every((r) => r.booted === o.nodes && r.pagesCaughtUp !== false),
  };
  const file = join(projectRoot(), `bench/results/storm-page${sse ? '-sse' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| pages | runs | median s until all up | each run (s) | median replica CPU (ms) |`);
  console.log(`| ---: | ---: | ---: | --- | ---: |`);
  for (const v of [0, o.viewers]) console.log(`| ${v} | ${of(v).length} | ${median(of(v).map((r) => r.seconds))} | ${of(v).map((r) => r.seconds).join(', ')} | ${median(of(v).map((r) => r.serveCpuMs))} |`);
  console.log(`cost of ${o.viewers} pages: ${cost}% (goal ≤ 5%: ${result.goalMet ? 'met' : 'not met'}); written to ${file}`);
}
