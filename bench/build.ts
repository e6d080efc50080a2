// An unchanged rebuild of the Debian image: `build-image debian` once into a fresh
// --out/--cache-dir (fills the cache from Debian's archive: minutes), then unchanged
// rebuilds, measured. Next to each, from the same run: the time of every external
// tool the rebuild called (each tool is wrapped by a timing shim first on PATH), the
// build's own step times, and the old path: a rebuild whose root is a copy of the
// cache (mount fails, so the copy fallback runs) and `cp -a` of the cache alone.
// Usage: node --import tsx/esm bench/build.ts [--runs 3]    (root; writes bench/results/build.json)
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { projectRoot } from '../lib/paths.js';
import { removeTree } from '../rootfs/remove.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const runs = Number(arg('runs', '3'));
const TOOLS = ['mmdebstrap', 'mount', 'umount', 'cp', 'rm', 'sync', 'zstd', 'mksquashfs', 'unsquashfs', 'mkfs.erofs', 'fsck.erofs'];
const GOAL_SECONDS = 5;

const loadBefore = +loadavg()[0]!.toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'dl-bench-build-'));
const out = join(work, 'images');
const cacheDir = join(work, 'cache');
const toolLog = join(work, 'tools.log');

/** Shims that time each call of the real tool into toolLog; one more dir whose mount always fails. */
async function shims(): Promise<{ timed: string; noMount: string }> {
  const timed = join(work, 'shims');
  const noMount = join(work, 'no-mount');
  mkdirSync(timed);
  mkdirSync(noMount);
  for (const tool of TOOLS) {
    const real = (await run(['sh', '-c', 'command -v "$1"', 'sh', tool]).catch(() => undefined))?.stdout.trim();
    if (!real) continue;
    const body = `#!/bin/sh\ns=$(date +%s%N)\n'${real}' "$@"\nrc=$?\necho "${tool} $s $(date +%s%N)" >> '${toolLog}'\nexit $rc\n`;
    writeFileSync(join(timed, tool), body);
    chmodSync(join(timed, tool), 0o755);
  }
  writeFileSync(join(noMount, 'mount'), '#!/bin/sh\necho "mount: overlay disabled for the bench\'s copy path" >&2\nexit 32\n');
  chmodSync(join(noMount, 'mount'), 0o755);
  return { timed, noMount };
}

interface Build {
  wallSeconds: number;
  steps: Record<string, number>;
  rootFrom: 'overlay' | 'copy' | 'unknown';
  tools: { tool: string; calls: number; seconds: number }[];
  toolSeconds: number;
}

async function build(path: string): Promise<Build> {
  writeFileSync(toolLog, '');
  const start = performance.now();
  const { stdout, stderr } = await run(
    [process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'cli/build-image.ts'), 'debian', '--out', out, '--cache-dir', cacheDir],
    { cwd: projectRoot(), env: { ...process.env, PATH: path } as Record<string, string> },
  );
  const wallSeconds = +((performance.now() - start) / 1000).toFixed(3);
  const text = `${stdout}${stderr}`;
  const steps = Object.fromEntries([...text.matchAll(/\] ([\w-]+): done in ([\d.]+)s/g)].map((m) => [m[1]!, Number(m[2])]));
  const rootFrom = text.includes('root: an overlay over the cached bootstrap') ? 'overlay' : text.includes('root: a copy of the cached bootstrap') ? 'copy' : 'unknown';
  const byTool = new Map<string, { calls: number; ns: bigint }>();
  for (const line of readFileSync(toolLog, 'utf8').trim().split('\n').filter(Boolean)) {
    const [tool, s, e] = line.split(' ');
    const t = byTool.get(tool!) ?? { calls: 0, ns: 0n };
    byTool.set(tool!, { calls: t.calls + 1, ns: t.ns + BigInt(e!) - BigInt(s!) });
  }
  const tools = [...byTool].map(([tool, t]) => ({ tool, calls: t.calls, seconds: +(Number(t.ns) / 1e9).toFixed(3) })).sort((a, b) => b.seconds - a.seconds);
  return { wallSeconds, steps, rootFrom, tools, toolSeconds: +tools.reduce((n, t) => n + t.seconds, 0).toFixed(3) };
}

/** The old path's copy alone: cp -a of the cached root, and removing the copy again. */
async function copyAlone(): Promise<{ cpSeconds: number; rmSeconds: number }> {
  const entry = join(cacheDir, 'bootstrap', readdirSync(join(cacheDir, 'bootstrap')).find((n) => !n.includes('.partial'))!);
  const to = join(work, 'copy');
  mkdirSync(to);
  let t = performance.now();
  await run(['cp', '-a', '--reflink=auto', `${entry}/root/.`, to]);
  const cpSeconds = +((performance.now() - t) / 1000).toFixed(3);
  t = performance.now();
  await removeTree(to);
  return { cpSeconds, rmSeconds: +((performance.now() - t) / 1000).toFixed(3) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const sh = await shims();
const basePath = `${sh.timed}:${process.env.PATH}`;
let result: object;
try {
  console.log(`first build (fills the cache in ${cacheDir}) ...`);
  const first = await build(basePath);
  const overlay: Build[] = [];
  const copy: Build[] = [];
  const cpAlone: { cpSeconds: number; rmSeconds: number }[] = [];
  for (let i = 0; i < runs; i++) {
    overlay.push(await build(basePath));
    copy.push(await build(`${sh.noMount}:${basePath}`));
    cpAlone.push(await copyAlone());
    console.log(`round ${i + 1}: overlay ${overlay.at(-1)!.wallSeconds}s, copy ${copy.at(-1)!.wallSeconds}s, cp -a alone ${cpAlone.at(-1)!.cpSeconds}s`);
  }
  if (overlay.some((b) => b.rootFrom !== 'overlay') || copy.some((b) => b.rootFrom !== 'copy')) throw new Error('a rebuild did not take the root the way it was meant to');
  const summary = (bs: Build[]) => ({ medianWallSeconds: median(bs.map((b) => b.wallSeconds)), allWallSeconds: bs.map((b) => b.wallSeconds), medianToolSeconds: median(bs.map((b) => b.toolSeconds)) });
  const overlayMedian = median(overlay.map((b) => b.wallSeconds));
  result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
    image: 'build-image debian (templates/debian), squashfs root, zstd initrd',
    runs,
    firstBuild: first,
    unchangedRebuild: {
      overlay: summary(overlay),
      copy: summary(copy),
      cpAloneMedianSeconds: median(cpAlone.map((c) => c.cpSeconds)),
      rmOfCopyMedianSeconds: median(cpAlone.map((c) => c.rmSeconds)),
    },
    // Wall time is the CLI process from start to exit (node and tsx start-up included);
    // tools are the external programs the rebuild ran, timed by shims around them.
    rows: [...overlay.map((b) => ({ root: 'overlay', ...b })), ...copy.map((b) => ({ root: 'copy', ...b }))],
    goal: `an unchanged rebuild takes <= ${GOAL_SECONDS} s`,
    goalMet: overlayMedian <= GOAL_SECONDS,
  };
} finally {
  await removeTree(work);
}
mkdirSync(join(projectRoot(), 'bench/results'), { recursive: true });
writeFileSync(join(projectRoot(), 'bench/results/build.json'), `${JSON.stringify(result, null, 2)}\n`);
const r = result as { unchangedRebuild: { overlay: { medianWallSeconds: number; medianToolSeconds: number }; copy: { medianWallSeconds: number; medianToolSeconds: number }; cpAloneMedianSeconds: number }; rows: (Build & { root: string })[]; goal: string; goalMet: boolean };
console.log('\n| root | wall (s) | external tools (s) | bootstrap | customize | kernel | initrd | root-image | manifest | publish |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const b of r.rows) {
  const s = b.steps;
  console.log(`| ${b.root} | ${b.wallSeconds} | ${b.toolSeconds} | ${s.bootstrap} | ${s.customize} | ${s.kernel} | ${s.initrd} | ${s['root-image']} | ${s.manifest} | ${s.publish} |`);
}
console.log(`\nmedian unchanged rebuild: overlay ${r.unchangedRebuild.overlay.medianWallSeconds}s (tools ${r.unchangedRebuild.overlay.medianToolSeconds}s), copy ${r.unchangedRebuild.copy.medianWallSeconds}s (tools ${r.unchangedRebuild.copy.medianToolSeconds}s); cp -a of the cache alone ${r.unchangedRebuild.cpAloneMedianSeconds}s`);
console.log(`tools of the last overlay rebuild: ${r.rows.filter((b) => b.root === 'overlay').at(-1)!.tools.map((t) => `${t.tool} x${t.calls} ${t.seconds}s`).join(', ')}`);
console.log(`goal (${r.goal}): ${r.goalMet ? 'met' : 'not met'}`);
