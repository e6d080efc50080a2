// Virtual clusters on the local libvirtd (started here when not running, stopped by PID):
// - creation (network, scratch disks, domains defined; no boot) of VCs of 1, 10 and 100 VMs
//   with `vc create` (vc/ops, in process), against the peer in the same run: the same network
//   and the same domain definitions, each VM's disk a full copy of a formatted base of the
//   same size (what a tool without backing files does): `cp --sparse=never` (every byte
//   written) and `qemu-img convert` (a standalone qcow2; zero blocks skipped);
// - where the time of a 100-VM create goes: driver calls, record writes, processes started;
// - vc save and vc restore of a booted 4-VM VC (the BusyBox guest of tools/vc-guest.ts);
// - vc start to every VM's node-up line for a 4-VM VC of a real image (--images DIR: a
//   build-image folder whose image boots in VC mode; without it, reported as not measured).
// Usage: node --import tsx/esm bench/vc.ts [--sizes 1,10,100] [--runs 3] [--scratch 256M]
//        [--images DIR --image NAME]        (root; writes bench/results/vc.json)
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { run } from '../lib/run.js';
import { projectRoot } from '../lib/paths.js';
import { consoleLogger, type Logger } from '../lib/log.js';
import { startLibvirtd } from '../vc/daemon.js';
import { LibvirtDriver } from '../vc/drivers/libvirt.js';
import type { HypervisorDriver } from '../vc/drivers/driver.js';
import { FileStore } from '../vc/store/file.js';
import type { StateStore } from '../vc/store/store.js';
import { specFromFlags } from '../vc/spec.js';
import { parseSize } from '../vc/size.js';
import { newVcRecord } from '../vc/record.js';
import { SCRATCH_LABEL, scratchBase } from '../vc/disks.js';
import { createVcOp, destroyOp, opsContext, resolveVcImage, restoreOp, saveOp, showOp, startOp, vmDef, type OpsContext } from '../vc/ops/index.js';
import { forEachLimit, VM_CONCURRENCY } from '../vc/ops/context.js';
import { guestInitrd, guestKernel, lastTick } from '../tools/vc-guest.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const sizes = arg('sizes', '1,10,100').split(',').map(Number);
const runs = Number(arg('runs', '3'));
// A quarter of the default disk:1G: 100 dense copies of 1 GiB would not fit on this machine's disk.
const scratch = arg('scratch', '256M');
const scratchBytes = parseSize(scratch)!;
const imagesArg = arg('images', '');
const imageArg = arg('image', 'debian-bookworm-amd64');
const MEMORY = '64M'; // the spec's minimum: the creation VMs are only defined
const GUEST_MEMORY = '128M';
const GOAL = { seconds100: 10, speedup: 5, flatWithin: 1.25 };
const tag = `b${process.pid % 1000}`;

const loadBefore = +loadavg()[0]!.toFixed(2);
const work = mkdtempSync('/var/tmp/dl-bench-vc-');
chmodSync(work, 0o755); // QEMU (libvirt-qemu) must reach every file under it
const stateDir = join(work, 'state');
const peerDir = join(work, 'peer');
mkdirSync(peerDir, { mode: 0o755 });
const ms = (t0: number) => +(performance.now() - t0).toFixed(1);
const secs = (m: number) => +(m / 1000).toFixed(3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The BusyBox guest as a build-image folder: images/busy/<version>/{vmlinuz,initrd.cpio,root.squashfs,manifest.json}. */
function guestImages(): string {
  const images = join(work, 'images');
  const version = '20260101-000000';
  const dir = join(images, 'busy', version);
  mkdirSync(dir, { recursive: true });
  copyFileSync(guestKernel(work), join(dir, 'vmlinuz'));
  guestInitrd(dir);
  writeFileSync(join(dir, 'root.squashfs'), randomBytes(1024 * 1024));
  const art = (file: string) => {
    const data = readFileSync(join(dir, file));
    return { file, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
    schema: 1, name: 'busy', version, distro: 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: 'bench', cmdline: 'console=ttyS0 panic=-1',
    templateHash: 'x', rootFormat: 'squashfs', initrdCompression: 'none', initrdModules: [], initrdBuiltin: [], bootstrap: { method: 'bench', sourceHash: '' },
    rootInputs: '', builtAt: '2026-01-01T00:00:00Z', builder: 'bench', artifacts: { kernel: art('vmlinuz'), initrd: art('initrd.cpio'), root: art('root.squashfs') },
  }));
  symlinkSync(version, join(images, 'busy', 'current'));
  for (const d of [images, join(images, 'busy'), dir]) chmodSync(d, 0o755);
  return images;
}

/** Calls and time per method of an object (the driver, the store): outer calls only. */
type Calls = Map<string, { calls: number; ms: number }>;
function profiled<T extends object>(target: T, calls: Calls): T {
  return new Proxy(target, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await (v as (...a: unknown[]) => unknown).apply(t, args);
        } finally {
          const c = calls.get(String(k)) ?? { calls: 0, ms: 0 };
          calls.set(String(k), { calls: c.calls + 1, ms: c.ms + performance.now() - t0 });
        }
      };
    },
  });
}
const callTable = (c: Calls) => Object.fromEntries([...c].map(([k, v]) => [k, { calls: v.calls, seconds: secs(v.ms) }]));

/** A logger that keeps each line with its time, and counts the processes run() started. */
function timedLogger() {
  const lines: { at: number; line: string }[] = [];
  const keep = (line: string) => lines.push({ at: performance.now(), line });
  const log: Logger = { info: keep, warn: keep, debug: keep };
  const processes = () => {
    const n: Record<string, number> = {};
    for (const { line } of lines) {
      const m = /^\$ (\S+)/.exec(line);
      if (m) n[m[1]!] = (n[m[1]!] ?? 0) + 1;
    }
    return n;
  };
  /** Step times from runSteps' "[i/n] step: describe" ... "[i/n] step: done" lines. */
  const steps = () => {
    const out: Record<string, number> = {};
    const begun = new Map<string, number>();
    for (const { at, line } of lines) {
      const m = /^\[\d+\/\d+\] ([\w-]+): (done|failed)?/.exec(line);
      if (!m) continue;
      if (!m[2] && !begun.has(m[1]!)) begun.set(m[1]!, at);
      else if (m[2]) out[m[1]!] = secs(at - begun.get(m[1]!)!);
    }
    return out;
  };
  return { log, lines, processes, steps };
}

function context(log: Logger, driverCalls: Calls, storeCalls: Calls): OpsContext {
  const driver = profiled<HypervisorDriver>(new LibvirtDriver({ virtType: 'qemu', log }), driverCalls);
  const store = profiled<StateStore>(new FileStore({ dir: stateDir, owner: 'bench/vc' }), storeCalls);
  return opsContext({ store, driver, stateDir, log, shutdownTimeoutMs: 3000 });
}

interface CreateRow {
  setup: string;
  vms: number;
  run: number;
  seconds: number;
  perVmMs: number;
  steps: Record<string, number>;
  driver: Record<string, { calls: number; seconds: number }>;
  store?: Record<string, { calls: number; seconds: number }>;
  processes: Record<string, number>;
  destroySeconds: number;
}

const PRODUCT = 'diskless vc create';
const DENSE = 'full copy: cp --sparse=never';
const CONVERT = 'full copy: qemu-img convert';

async function productCreate(images: string, n: number, r: number): Promise<CreateRow> {
  const name = `${tag}p${n}r${r}`;
  const t = timedLogger();
  const driverCalls: Calls = new Map();
  const storeCalls: Calls = new Map();
  const ctx = context(t.log, driverCalls, storeCalls);
  const flags = { name, image: 'busy', nodes: String(n), memory: MEMORY, scratch: `disk:${scratch}` };
  const t0 = performance.now();
  await createVcOp(ctx, { imagesDir: images, spec: (o) => specFromFlags(flags, o) });
  const seconds = secs(ms(t0));
  const row: CreateRow = {
    setup: PRODUCT, vms: n, run: r, seconds, perVmMs: +((seconds * 1000) / n).toFixed(1), steps: t.steps(),
    driver: callTable(driverCalls), store: callTable(storeCalls), processes: t.processes(), destroySeconds: 0,
  };
  const d0 = performance.now();
  await destroyOp(context(t.log, new Map(), new Map()), name);
  row.destroySeconds = secs(ms(d0));
  return row;
}

/** The peer: the same network and domains, each disk a full copy of the formatted base (raw for cp, for convert too). */
async function peerCreate(images: string, rawBase: string, n: number, r: number, how: typeof DENSE | typeof CONVERT): Promise<CreateRow> {
  const name = `${tag}${how === DENSE ? 'c' : 'q'}${n}r${r}`;
  const t = timedLogger();
  const driverCalls: Calls = new Map();
  const driver = profiled<HypervisorDriver>(new LibvirtDriver({ virtType: 'qemu', log: t.log }), driverCalls);
  const image = await resolveVcImage(images, { name: 'busy' });
  const spec = specFromFlags({ name, image: 'busy', nodes: String(n), memory: MEMORY, scratch: `disk:${scratch}`, network: '10.214.0.0/24' });
  const dir = join(peerDir, name);
  const rec = newVcRecord(spec, { name: image.name, version: image.version }, Array.from({ length: n }, (_, i) => ({ index: i + 1, host: 'local', cores: [] })), { now: new Date(), pid: process.pid, pidStart: '' });
  const state = {
    ...rec,
    boot: image.boot,
    vms: rec.vms.map((vm) => ({ ...vm, scratchPath: join(dir, `${vm.domain}.${how === DENSE ? 'raw' : 'qcow2'}`), consoleLog: join(dir, `${vm.domain}.console.log`) })),
  };
  const t0 = performance.now();
  const mark = (step: string) => t.log.info(step);
  mark('[1/3] network: the same isolated network');
  await driver.defineNetwork({ name: rec.network.name, bridge: rec.network.bridge, cidr: rec.network.cidr, gateway: false });
  mark('[1/3] network: done');
  mark(`[2/3] disks: ${n} full copies`);
  mkdirSync(dir, { mode: 0o755 });
  await forEachLimit(state.vms, VM_CONCURRENCY, async (vm) => {
    const argv = how === DENSE ? ['cp', '--sparse=never', '--reflink=never', rawBase, vm.scratchPath] : ['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', rawBase, vm.scratchPath];
    await run(argv, { log: t.log });
  });
  mark('[2/3] disks: done');
  mark(`[3/3] domains: define ${n} domains`);
  for (const vm of state.vms) await driver.define(vmDef(state, vm));
  mark('[3/3] domains: done');
  const seconds = secs(ms(t0));
  const diskBytes = state.vms.reduce((s, vm) => s + statSync(vm.scratchPath).blocks * 512, 0);
  const row: CreateRow = { setup: how, vms: n, run: r, seconds, perVmMs: +((seconds * 1000) / n).toFixed(1), steps: { ...t.steps(), diskMiBWritten: Math.round(diskBytes / 2 ** 20) }, driver: callTable(driverCalls), processes: t.processes(), destroySeconds: 0 };
  const d0 = performance.now();
  await forEachLimit(state.vms, VM_CONCURRENCY, async (vm) => driver.undefine(vm.domain));
  await driver.destroyNetwork(rec.network.name);
  rmSync(dir, { recursive: true, force: true });
  row.destroySeconds = secs(ms(d0));
  return row;
}

/** The fixed cost of one virsh process (start, connect, one call, exit). */
async function virshCallMs(): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await run(['virsh', '-q', '-c', 'qemu:///system', 'list', '--all', '--name']);
    xs.push(ms(t0));
  }
  return median(xs);
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));
const consoleOf = (f: string | null) => (f && existsSync(f) ? readFileSync(f, 'utf8') : '');
async function until<T>(what: string, limitMs: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs / 1000} s`);
    await sleep(200);
  }
}

/** vc save and vc restore of a booted 4-VM VC; the counters must go on after each restore. */
async function saveRestore(images: string) {
  const name = `${tag}s`;
  const t = timedLogger();
  const ctx = context(t.log, new Map(), new Map());
  const flags = { name, image: 'busy', nodes: '4', memory: GUEST_MEMORY, scratch: `disk:${scratch}` };
  await createVcOp(ctx, { imagesDir: images, spec: (o) => specFromFlags(flags, o), start: true });
  try {
    const vms = (await showOp(ctx, name)).vms;
    const ticks = () => vms.map((vm) => lastTick(consoleOf(vm.consoleLog)));
    await until('the 4 guests counting', 300_000, () => ticks().every((n) => n >= 2));
    const rows = [];
    for (let r = 1; r <= runs; r++) {
      let t0 = performance.now();
      await saveOp(ctx, name);
      const save = ms(t0);
      const saveMiB = vms.reduce((s, vm) => s + statSync(join(stateDir, 'vms', name, `${vm.name}.save`)).size, 0) / 2 ** 20;
      const before = ticks();
      t0 = performance.now();
      await restoreOp(ctx, name);
      const restore = ms(t0);
      await until('the counters going on after restore', 60_000, () => ticks().every((n, i) => n > before[i]!));
      const rebooted = vms.filter((vm) => (consoleOf(vm.consoleLog).match(/vc-guest up/g)?.length ?? 0) !== 1).length;
      if (rebooted) throw new Error(`${rebooted} guests booted again: restore did not continue them`);
      rows.push({ run: r, saveSeconds: secs(save), restoreSeconds: secs(restore), savePerVmSeconds: secs(save / vms.length), restorePerVmSeconds: secs(restore / vms.length), saveFilesMiB: Math.round(saveMiB) });
      console.error(`save/restore round ${r}: save ${secs(save)} s, restore ${secs(restore)} s (4 VMs, ${Math.round(saveMiB)} MiB of save files)`);
    }
    return {
      measured: true, vms: vms.length, memory: GUEST_MEMORY, guest: 'BusyBox initrd counting on the serial console (tools/vc-guest.ts), TCG',
      medianSaveSeconds: median(rows.map((x) => x.saveSeconds)), medianRestoreSeconds: median(rows.map((x) => x.restoreSeconds)),
      medianSavePerVmSeconds: median(rows.map((x) => x.savePerVmSeconds)), medianRestorePerVmSeconds: median(rows.map((x) => x.restorePerVmSeconds)), rows,
    };
  } finally {
    await destroyOp(ctx, name);
  }
}

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+)/;

/** vc start of a 4-VM VC of a real image, to the node-up line of each VM in its console log. */
async function nodeUp() {
  if (!imagesArg) return { measured: false, reason: 'no --images DIR: needs a built image whose initrd boots in VC mode (branch vc-initrd, not merged yet); run bench/vc.ts --images DIR --image NAME' };
  const name = `${tag}u`;
  const t = timedLogger();
  const ctx = context(t.log, new Map(), new Map());
  const flags = { name, image: imageArg, nodes: '4', memory: '512M', scratch: 'disk:1G' };
  await createVcOp(ctx, { imagesDir: imagesArg, spec: (o) => specFromFlags(flags, o) });
  try {
    const vms = (await showOp(ctx, name)).vms;
    const t0 = performance.now();
    await startOp(ctx, name);
    const startReturned = ms(t0);
    const up = new Map<string, { seconds: number; line: string }>();
    try {
      await until('every node-up line', 600_000, () => {
        for (const vm of vms) {
          const m = NODE_UP.exec(consoleOf(vm.consoleLog));
          if (m && !up.has(vm.name)) up.set(vm.name, { seconds: secs(ms(t0)), line: m[0] });
        }
        return up.size === vms.length;
      });
    } catch (err) {
      const tails = vms.map((vm) => `${vm.name}: ${consoleOf(vm.consoleLog).trim().split('\n').slice(-3).join(' | ')}`);
      return { measured: false, reason: `${(err as Error).message}; ${up.size}/${vms.length} node-up lines; console tails: ${tails.join('; ')}` };
    }
    const wrong = vms.filter((vm) => !up.get(vm.name)!.line.includes(`name=${vm.name} addr=${vm.address}`)).map((vm) => `${vm.name}: ${up.get(vm.name)!.line}`);
    return { measured: true, image: imagesArg, imageName: imageArg, vms: vms.length, memory: '512M', startReturnedSeconds: secs(startReturned),
      allUpSeconds: Math.max(...[...up.values()].map((u) => u.seconds)), perVm: Object.fromEntries([...up].map(([k, u]) => [k, u.seconds])), wrongNameOrAddress: wrong };
  } finally {
    await destroyOp(ctx, name);
  }
}

/** The peer's template: the same formatted ext4 as vc/disks.ts's base, raw. */
async function rawBase(): Promise<string> {
  const f = join(peerDir, 'base.raw');
  await run(['qemu-img', 'create', '-q', '-f', 'raw', f, String(scratchBytes)]);
  await run(['mkfs.ext4', '-F', '-q', '-L', SCRATCH_LABEL, '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', f]);
  chmodSync(f, 0o644);
  return f;
}

const daemons = await startLibvirtd({ timeoutMs: 30_000, log: consoleLogger() });
const rows: CreateRow[] = [];
let extra: { baseSeconds: number; virshCallMs: number; saveRestore: object; nodeUp: object };
try {
  const images = guestImages();
  const b0 = performance.now();
  await scratchBase(join(stateDir, 'bases'), scratchBytes);
  const baseSeconds = secs(ms(b0));
  const raw = await rawBase();
  const virshMs = await virshCallMs();
  for (let r = 1; r <= runs; r++) {
    for (const n of sizes) {
      for (const setup of [PRODUCT, CONVERT, DENSE] as const) {
        await run(['sync']);
        const row = setup === PRODUCT ? await productCreate(images, n, r) : await peerCreate(images, raw, n, r, setup);
        rows.push(row);
        console.error(`${setup} x${n} (round ${r}): ${row.seconds} s, ${row.perVmMs} ms per VM; steps ${JSON.stringify(row.steps)}`);
      }
    }
  }
  extra = { baseSeconds, virshCallMs: virshMs, saveRestore: await saveRestore(images), nodeUp: await nodeUp() };
} finally {
  await daemons.stop();
  rmSync(work, { recursive: true, force: true });
}

const summary = sizes.flatMap((n) => [PRODUCT, CONVERT, DENSE].map((setup) => {
  const rs = rows.filter((x) => x.setup === setup && x.vms === n);
  const s = median(rs.map((x) => x.seconds));
  return { setup, vms: n, medianSeconds: s, perVmMs: +((s * 1000) / n).toFixed(1), allSeconds: rs.map((x) => x.seconds) };
}));
const at = (setup: string, n: number) => summary.find((x) => x.setup === setup && x.vms === n);
const ratios: Record<string, number> = {};
for (const n of sizes) for (const peer of [CONVERT, DENSE]) ratios[`${peer} / vc create, ${n} VMs`] = +(at(peer, n)!.medianSeconds / at(PRODUCT, n)!.medianSeconds).toFixed(2);
const p100 = at(PRODUCT, 100);
const p10 = at(PRODUCT, 10);
const d100 = at(DENSE, 100);
// Where a 100-VM create's time goes: the median run's driver calls, record writes and processes.
const prof = rows.filter((x) => x.setup === PRODUCT && x.vms === 100).sort((a, b) => a.seconds - b.seconds)[Math.floor((runs - 1) / 2)];
/** Cost of each VM past the first size: (t(b) - t(a)) / (b - a). */
const marginal = (setup: string, a: number, b: number) => (at(setup, a) && at(setup, b) ? +(((at(setup, b)!.medianSeconds - at(setup, a)!.medianSeconds) * 1000) / (b - a)).toFixed(1) : undefined);
const marginalMs = Object.fromEntries([PRODUCT, CONVERT, DENSE].map((s) => [s, { '1->10': marginal(s, 1, 10), '10->100': marginal(s, 10, 100) }]));
// null: the sizes run did not include 10 and 100.
const goalMet = {
  under10s: p100 ? p100.medianSeconds <= GOAL.seconds100 : null,
  fiveTimesFullCopy: p100 && d100 ? d100.medianSeconds / p100.medianSeconds >= GOAL.speedup : null,
  flatPerVm: p100 && p10 ? p100.perVmMs <= p10.perVmMs * GOAL.flatWithin : null,
};
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryMiB: Math.round(totalmem() / 2 ** 20), loadAverage1m: { before: loadBefore, after: +loadavg()[0]!.toFixed(2) } },
  libvirt: { uri: 'qemu:///system', virtType: 'qemu (TCG)', startedByBench: daemons.started.map((d) => d.name) },
  create: {
    what: 'network defined and started, one scratch disk per VM, every domain defined; no boot',
    memoryPerVm: MEMORY, scratch: `disk:${scratch}`, runs,
    peers: { [CONVERT]: 'qemu-img convert -f raw -O qcow2 of the formatted raw base: a standalone qcow2, zero blocks skipped', [DENSE]: 'cp --sparse=never --reflink=never of the formatted raw base: every byte written' },
    oneTimeBaseSeconds: extra!.baseSeconds,
    summary, ratios, marginalMsPerVm: marginalMs,
    profile100: prof && { seconds: prof.seconds, steps: prof.steps, driver: prof.driver, store: prof.store, processes: prof.processes, virshProcessMs: extra!.virshCallMs },
    rows,
  },
  saveRestore: extra!.saveRestore,
  startToNodeUp: extra!.nodeUp,
  goal: `a ${100}-VM VC created in <= ${GOAL.seconds100} s, >= ${GOAL.speedup}x faster than full copies (cp --sparse=never), cost per VM flat from 10 to 100 (within ${GOAL.flatWithin}x)`,
  goalMet,
};
mkdirSync(join(projectRoot(), 'bench/results'), { recursive: true });
writeFileSync(join(projectRoot(), 'bench/results/vc.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('| setup | VMs | median (s) | per VM (ms) | each run (s) |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const x of summary) console.log(`| ${x.setup} | ${x.vms} | ${x.medianSeconds} | ${x.perVmMs} | ${x.allSeconds.join(', ')} |`);
for (const [k, v] of Object.entries(ratios)) console.log(`speed-up ${k}: ${v}`);
for (const [k, v] of Object.entries(marginalMs)) console.log(`each VM more, ${k}: ${v['1->10']} ms (1 to 10 VMs), ${v['10->100']} ms (10 to 100 VMs)`);
if (prof) {
  console.log(`\n100-VM create (${prof.seconds} s): steps ${JSON.stringify(prof.steps)}`);
  console.log(`  driver: ${Object.entries(prof.driver).map(([k, v]) => `${k} x${v.calls} ${v.seconds}s`).join(', ')}`);
  console.log(`  store: ${Object.entries(prof.store ?? {}).map(([k, v]) => `${k} x${v.calls} ${v.seconds}s`).join(', ')}`);
  console.log(`  processes: ${Object.entries(prof.processes).map(([k, v]) => `${k} x${v}`).join(', ')}; one virsh process alone: ${extra!.virshCallMs} ms`);
}
const sr = extra!.saveRestore as { measured: boolean; medianSaveSeconds?: number; medianRestoreSeconds?: number; medianSavePerVmSeconds?: number; medianRestorePerVmSeconds?: number };
console.log(`\nvc save / vc restore, 4 VMs of ${GUEST_MEMORY}: save ${sr.medianSaveSeconds} s (${sr.medianSavePerVmSeconds} s per VM), restore ${sr.medianRestoreSeconds} s (${sr.medianRestorePerVmSeconds} s per VM)`);
const nu = extra!.nodeUp as { measured: boolean; reason?: string; allUpSeconds?: number };
console.log(`vc start to every node-up line, 4 VMs: ${nu.measured ? `${nu.allUpSeconds} s` : `not measured: ${nu.reason}`}`);
console.log(`goal (${result.goal}): ${Object.entries(goalMet).map(([k, v]) => `${k} ${v === null ? 'not measured' : v ? 'met' : 'not met'}`).join(', ')}`);
