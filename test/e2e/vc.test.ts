// Virtual clusters end to end: `diskless vc` (run as a child process, as scripts run it)
// on a real libvirtd started here, VMs booting the project's own `build-image debian`
// under TCG. The guests have no shell; they prove things on their serial consoles with
// the image's self-tests, switched on by `vc create --append`:
//   diskless.selftest.ping=A,B  ping each (peers boot at their own pace), one line per
//                               address: reachable or not, and its neighbour (ARP) state;
//   diskless.selftest.tick      a counter, one line a second, kept only in memory.
// Both VCs use the SAME network CIDR: if their networks were joined, the second VC's VM
// would find the first VC's VMs at those addresses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { consoleLogger } from '../../lib/log.js';
import { startLibvirtd, type LibvirtDaemons } from '../../vc/daemon.js';
import type { VcView } from '../../vc/ops/view.js';
import { builtDebian, DEBIAN } from '../helpers/built-image.js';
import { needTool } from '../helpers/need.js';
import { vcCli } from '../helpers/vc-cli.js';

needTool('virsh', 'libvirt-clients');
needTool('libvirtd', 'libvirt-daemon-system');
needTool('qemu-img', 'qemu-utils');
needTool('qemu-system-x86_64', 'qemu-system-x86');
needTool('mmdebstrap', 'mmdebstrap');

// Unique to this run: other tests may share the libvirtd.
const tag = `e${process.pid % 100000}`;
const A = `${tag}a`;
const B = `${tag}b`;
const NET = '10.213.250.0/24';
const ADDRS = ['10.213.250.2', '10.213.250.3', '10.213.250.4'];
// libvirt runs QEMU as libvirt-qemu: every folder on the way must be searchable.
const work = mkdtempSync('/var/tmp/diskless-vc-e2e-');
chmodSync(work, 0o755);
const stateDir = join(work, 'state');
const images = join(work, 'images');

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+)/g;
const BOOT_COUNT = /diskless: boot-count=(\d+) upper=(\S+)/g;
const PING = /diskless: selftest ping (\S+) (reachable|unreachable|self)(?: neigh=(\S+))?/g;
const TICK = /diskless: tick (\d+)\r?\n/g;

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const { common, vc, ok, show, states, virshNames, ours, consoleOf } = vcCli(stateDir, tag);
const all = (re: RegExp, text: string) => [...text.matchAll(re)];
const ticks = (text: string) => all(TICK, text).map((m) => Number(m[1]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, ms: number, probe: () => T | undefined | false, last?: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${last ? `; last console output:\n${last().slice(-3000)}` : ''}`);
    await sleep(500);
  }
}
const t0 = Date.now();
let phaseStart = Date.now();
function phase(name: string) {
  const now = Date.now();
  console.log(`  [vc e2e] ${name}: ${((now - phaseStart) / 1000).toFixed(1)} s (total ${((now - t0) / 1000).toFixed(1)} s)`);
  phaseStart = now;
}

/** Every VM of the VC has printed `count` node-up lines and boot counts; returns their consoles. */
async function allUp(name: string, count: number, ms: number): Promise<Map<string, string>> {
  const v = show(name);
  const out = new Map<string, string>();
  for (const vm of v.vms) {
    const text = await until(`${vm.name}: node-up #${count}`, ms, () => {
      const c = consoleOf(vm.consoleLog);
      return all(BOOT_COUNT, c).length >= count && c;
    }, () => consoleOf(vm.consoleLog));
    out.set(vm.name, text);
  }
  return out;
}

let daemons: LibvirtDaemons | undefined;
let dir: string;
let manifest: { version: string; artifacts: Record<string, { file: string; sha256: string }> };

test.before(async () => {
  builtDebian(images); // the run's one `build-image debian` (test/helpers/built-image.ts)
  dir = join(images, DEBIAN, readlinkSync(join(images, DEBIAN, 'current')));
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  phase('image');
  daemons = await startLibvirtd({ timeoutMs: 30_000, log: consoleLogger() });
  phase('libvirtd');
});

test.after(async () => {
  try {
    for (const n of [A, B]) vc(['destroy', n]);
  } finally {
    await daemons?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('a 3-VM VC of the debian image: every VM boots its init and says it is up, with its VC name and address', async () => {
  const append = `diskless.selftest.tick diskless.selftest.ping=${ADDRS.join(',')}`;
  const r = ok(['create', A, '--image', DEBIAN, '--nodes', '3', '--memory', '448M', '--network', NET, '--scratch', 'disk:256M', '--images', images, '--append', append, '--start']);
  for (const i of [1, 2, 3]) assert.match(r.out, `${A}-${i}: started`);
  phase('vc create --start (3 VMs)');
  const v = show(A);
  assert.equal(v.vms.map((vm) => [vm.name, vm.address, vm.state]), ADDRS.map((a, i) => [`${A}-${i + 1}`, a, 'running']));
  const consoles = await allUp(A, 1, 420_000);
  for (const vm of v.vms) {
    const c = consoles.get(vm.name)!;
    const [up] = all(NODE_UP, c);
    assert.equal(up!.slice(1), [vm.name, `${vm.address}/24`, DEBIAN, manifest.version, 'overlay', 'squashfs,ro', 'ext4'], `${vm.name}: ${up![0]}`);
    assert.equal(all(BOOT_COUNT, c).map((m) => [m[1], m[2]]), [['1', 'ext4']], 'first boot, upper layer on the scratch disk');
    assert.not.match(c, /diskless: ERROR/);
  }
  phase('every node-up line');
});

test('the VMs of the VC ping each other on its network', async () => {
  for (const vm of show(A).vms) {
    const lines = await until(`${vm.name}: the ping self-test`, 240_000, () => {
      const m = all(PING, consoleOf(vm.consoleLog));
      return m.length === ADDRS.length && m;
    }, () => consoleOf(vm.consoleLog));
    for (const m of lines) {
      if (m[1] === vm.address) assert.is(m[2], 'self', m[0]);
      else {
        assert.is(m[2], 'reachable', `${vm.name}: ${m[0]}`);
        assert.match(m[3]!, /^(REACHABLE|STALE|DELAY|PROBE)$/, `${vm.name}: a resolved neighbour entry: ${m[0]}`);
      }
    }
  }
  phase('pings within the VC');
});

test('a second VC on the same CIDR cannot reach the first: no ping answer, no ARP answer', async () => {
  const append = `diskless.selftest.tick diskless.selftest.ping=${ADDRS.join(',')} diskless.selftest.wait=30`;
  ok(['create', B, '--image', DEBIAN, '--nodes', '1', '--memory', '448M', '--network', NET, '--scratch', 'ram', '--images', images, '--append', append, '--start']);
  const b = show(B);
  assert.is(b.network, NET, 'the same CIDR as the first VC is allowed: VC networks are isolated');
  assert.is(b.vms[0]!.address, ADDRS[0]);
  assert.equal(ours(virshNames('net-list')).sort(), [`vc-${A}`, `vc-${B}`]);
  const vm = b.vms[0]!;
  await allUp(B, 1, 300_000);
  const lines = await until(`${vm.name}: the ping self-test`, 180_000, () => {
    const m = all(PING, consoleOf(vm.consoleLog));
    return m.length === ADDRS.length && m;
  }, () => consoleOf(vm.consoleLog));
  assert.equal(lines.map((m) => m[2]), ['self', 'unreachable', 'unreachable'], lines.map((m) => m[0]).join('\n'));
  for (const m of lines.slice(1)) assert.match(m[3]!, /^(FAILED|INCOMPLETE)$/, `no ARP answer from ${m[1]}: ${m[0]}`);
  // The first VC's VMs are still up and answer each other (the test above), so the silence is the isolation.
  assert.equal(states(A), ['running', 'running', 'running']);
  phase('second VC: isolation');
});

test('vc save then vc restore: the counter in every VM goes on, the VMs do not boot again', async () => {
  const vms = show(A).vms;
  await until('every counter past 3', 120_000, () => vms.every((vm) => ticks(consoleOf(vm.consoleLog)).length >= 3));
  ok(['save', A]);
  phase('vc save');
  assert.equal(show(A).vms.map((vm) => [vm.state, vm.desired]), [['shut off', 'saved'], ['shut off', 'saved'], ['shut off', 'saved']]);
  const before = vms.map((vm) => consoleOf(vm.consoleLog));
  ok(['restore', A]);
  phase('vc restore');
  assert.equal(states(A), ['running', 'running', 'running']);
  for (const [i, vm] of vms.entries()) {
    const last = ticks(before[i]!).at(-1)!;
    const after = await until(`${vm.name} counting on past ${last}`, 120_000, () => {
      const t = ticks(consoleOf(vm.consoleLog).slice(before[i]!.length));
      return t.length >= 3 && t;
    }, () => consoleOf(vm.consoleLog));
    assert.ok(after[0]! > last && after[0]! <= last + 5, `${vm.name}: ticks went on from ${last} with ${after[0]}, not from 1`);
    const c = consoleOf(vm.consoleLog);
    assert.is(all(NODE_UP, c).length, 1, `${vm.name} did not boot again`);
    assert.is(all(BOOT_COUNT, c).length, 1);
    assert.is(ticks(c).filter((n) => n === 1).length, 1, 'the counter never started over');
  }
  phase('counters checked');
});

test('vc stop is a clean ACPI shutdown; vc start: /var survives on the scratch disk, and is fresh with --scratch ram', async () => {
  for (const name of [A, B]) {
    const r = ok(['stop', name, '--timeout', '120']);
    for (const vm of show(name).vms) {
      assert.match(r.out, `${vm.name}: shut down`, `the guest answered the ACPI power button:\n${r.out}`);
      assert.not.match(r.out, `${vm.name}: powered off`);
    }
    assert.ok(states(name).every((s) => s === 'shut off'));
    phase(`vc stop ${name}`);
  }
  ok(['start', A]);
  ok(['start', B]);
  phase('vc start A and B');
  const a = await allUp(A, 2, 420_000);
  for (const [name, c] of a) {
    assert.equal(all(BOOT_COUNT, c).map((m) => [m[1], m[2]]), [['1', 'ext4'], ['2', 'ext4']], `${name}: the count under /var went on`);
    assert.is(all(NODE_UP, c).length, 2);
  }
  const b = await allUp(B, 2, 300_000);
  for (const [name, c] of b) assert.equal(all(BOOT_COUNT, c).map((m) => [m[1], m[2]]), [['1', 'tmpfs'], ['1', 'tmpfs']], `${name}: /var was in RAM`);
  phase('every VM up again');
});

test('vc destroy leaves no domain, network, scratch disk or state entry; the shared root image is unchanged', () => {
  const scratch = show(A).vms.map((vm) => vm.scratch!);
  assert.ok(scratch.every((f) => f && existsSync(f)), 'scratch disks before');
  ok(['destroy', A]);
  ok(['destroy', B]);
  phase('vc destroy A and B');
  assert.equal(ours(virshNames('list')), []);
  assert.equal(ours(virshNames('net-list')), []);
  assert.ok(scratch.every((f) => !existsSync(f)), 'no scratch disk');
  assert.equal(readdirSync(join(stateDir, 'vms')), []);
  assert.equal(JSON.parse(ok(['list', '--json']).stdout), []);
  assert.equal(Object.keys(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')).entries), []);
  for (const a of Object.values(manifest.artifacts)) assert.is(sha(join(dir, a.file)), a.sha256, `${a.file} keeps its sha256`);
});

test.run();
