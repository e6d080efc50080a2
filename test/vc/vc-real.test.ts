// `diskless vc` end to end against the real libvirtd (started here, stopped by PID),
// driven as a child process the way scripts will use it. The guests are TCG VMs
// booting a real Debian kernel and a BusyBox initrd that prints its command line and
// a counter (test/vc/guest.ts); booting the project's own images in a VC is the
// vc-initrd branch's test. Networks are isolated: nothing leaves the machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { consoleLogger } from '../../lib/log.js';
import { startLibvirtd, type LibvirtDaemons } from '../../vc/daemon.js';
import type { VcView } from '../../vc/ops/view.js';
import { needTool } from '../helpers/need.js';
import { vcCli } from '../helpers/vc-cli.js';
import { guestInitrd, guestKernel, lastTick } from './guest.js';

needTool('virsh', 'libvirt-clients');
needTool('libvirtd', 'libvirt-daemon-system');
needTool('qemu-img', 'qemu-utils');
needTool('qemu-system-x86_64', 'qemu-system-x86');
needTool('mkfs.ext4', 'e2fsprogs');
needTool('dpkg-deb', 'dpkg');

// VC names: at most 12 characters, unique to this run (other tests may share the libvirtd).
const tag = `t${process.pid % 100000}`;
const A = `${tag}a`;
const B = `${tag}b`;
const C = `${tag}c`;
// libvirt runs QEMU as libvirt-qemu: every folder on the way must be searchable.
const work = mkdtempSync('/var/tmp/diskless-vcreal-');
chmodSync(work, 0o755);
const stateDir = join(work, 'state');
const images = join(work, 'images');
const version = '20260101-000000';
const vdir = join(images, 'busy', version);
mkdirSync(vdir, { recursive: true });
const kernel = join(vdir, 'vmlinuz');
copyFileSync(guestKernel(work), kernel);
const initrd = guestInitrd(vdir);
const root = join(vdir, 'root.squashfs');
writeFileSync(root, randomBytes(1024 * 1024));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const art = (file: string) => ({ file, size: readFileSync(join(vdir, file)).length, sha256: sha(join(vdir, file)) });
writeFileSync(join(vdir, 'manifest.json'), JSON.stringify({
  schema: 1, name: 'busy', version, distro: 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: 'test', cmdline: 'console=ttyS0 panic=-1',
  templateHash: 'x', rootFormat: 'squashfs', initrdCompression: 'none', initrdModules: [], initrdBuiltin: [], bootstrap: { method: 'test', sourceHash: '' },
  rootInputs: '', builtAt: '2026-01-01T00:00:00Z', builder: 'test', artifacts: { kernel: art('vmlinuz'), initrd: art('initrd.cpio'), root: art('root.squashfs') },
}));
symlinkSync(version, join(images, 'busy', 'current'));
for (const d of [images, join(images, 'busy'), vdir]) chmodSync(d, 0o755);
const rootSha = sha(root);

const { common, vc, ok, show, states, virshNames, ours, consoleOf } = vcCli(stateDir, tag);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(250);
  }
}

let daemons: LibvirtDaemons | undefined;
test.before(async () => {
  daemons = await startLibvirtd({ timeoutMs: 30_000, log: consoleLogger() });
});

test.after(async () => {
  try {
    for (const n of [A, B, C]) vc(['destroy', n]);
  } finally {
    await daemons?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('vc create --start: 3 VMs, each VM shown as it starts, then the table', async () => {
  const r = ok(['create', A, '--image', 'busy', '--nodes', '3', '--memory', '192M', '--scratch', 'disk:64M', '--images', images, '--start']);
  for (const i of [1, 2, 3]) assert.match(r.out, `${A}-${i}: started`);
  assert.match(r.out, /\[3\/3\] domains: done/);
  assert.match(r.stdout, new RegExp(`${A}-3\\s+\\S+\\s+running\\s+10\\.213\\.0\\.4\\s+1\\s+-\\s+192 MiB\\s+${stateDir}/vms/${A}/${A}-3\\.console\\.log`));
  const v = show(A);
  assert.equal(v.vms.map((vm) => vm.state), ['running', 'running', 'running']);
  for (const vm of v.vms) {
    const up = await until(`${vm.name} booting`, 180_000, () => /vc-guest up: (.*)/.exec(consoleOf(vm.consoleLog))?.[1]);
    assert.match(up, `diskless.name=${vm.name} diskless.rootdev=serial:root diskless.scratch=serial:scratch diskless.ip=${vm.address}/24`);
  }
  const xml = execFileSync('virsh', ['-c', 'qemu:///system', 'dumpxml', `${A}-1`], { encoding: 'utf8' });
  assert.match(xml, `<source file='${root}'`);
  assert.match(xml, '<readonly/>');
});

test('vc save then vc restore: every VM saved, then back running; the counters continue', async () => {
  const v = show(A);
  await until('every counter at 2', 120_000, () => v.vms.every((vm) => lastTick(consoleOf(vm.consoleLog)) >= 2));
  ok(['save', A]);
  const saved = show(A);
  assert.equal(saved.vms.map((vm) => [vm.state, vm.desired]), [['shut off', 'saved'], ['shut off', 'saved'], ['shut off', 'saved']]);
  assert.ok(readdirSync(join(stateDir, 'vms', A)).filter((f) => f.endsWith('.save')).length === 3, 'three save files');
  const before = v.vms.map((vm) => lastTick(consoleOf(vm.consoleLog)));
  ok(['restore', A]);
  assert.equal(states(A), ['running', 'running', 'running']);
  for (const [i, vm] of v.vms.entries()) {
    await until(`${vm.name} counting past ${before[i]}`, 60_000, () => lastTick(consoleOf(vm.consoleLog)) >= before[i]! + 2);
    assert.is(consoleOf(vm.consoleLog).match(/vc-guest up/g)?.length, 1, `${vm.name} did not boot again`);
  }
  assert.equal(readdirSync(join(stateDir, 'vms', A)).filter((f) => f.endsWith('.save')), []);
});

test('vc stop (the BusyBox guest ignores ACPI: powered off after the timeout), then vc start boots them again', async () => {
  const r = ok(['stop', A, '--timeout', '3']);
  assert.match(r.out, `${A}-1: powered off (no ACPI shutdown within 3s)`);
  assert.equal(states(A), ['shut off', 'shut off', 'shut off']);
  ok(['start', A]);
  assert.equal(states(A), ['running', 'running', 'running']);
  for (const vm of show(A).vms) await until(`${vm.name} booting again`, 180_000, () => consoleOf(vm.consoleLog).match(/vc-guest up/g)?.length === 2);
});

test('a second VC gets its own network', () => {
  ok(['create', B, '--image', 'busy', '--nodes', '1', '--memory', '128M', '--scratch', 'ram', '--images', images]);
  const b = show(B);
  assert.is(b.network, '10.213.1.0/24');
  assert.is(b.vms[0]!.address, '10.213.1.2');
  assert.equal(ours(virshNames('net-list')).sort(), [`vc-${A}`, `vc-${B}`]);
  const list = JSON.parse(ok(['list', '--json']).stdout) as VcView[];
  assert.equal(list.map((x) => x.name), [A, B]);
  assert.match(ok(['list']).stdout, new RegExp(`${A}\\s+ready\\s+3\\s+3\\s+10\\.213\\.0\\.0/24`));
});

/**
 * A virsh for the killed create only: the real one, except that every `define` after the
 * first waits, so the kill lands after exactly one domain is defined however fast the
 * machine is (mkdir is the atomic "am I first" when defines run side by side).
 */
function slowDefineVirsh(): string {
  const dir = join(work, 'slow-virsh');
  mkdirSync(dir, { recursive: true });
  const real = execFileSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'virsh'), `#!/bin/sh\ncase " $* " in *" define "*) mkdir "${dir}/first" 2>/dev/null || sleep 600;; esac\nexec ${real} "$@"\n`, { mode: 0o755 });
  return dir;
}

test('SIGKILL in the middle of vc create: vc show tells the truth, vc destroy cleans up', async () => {
  const shim = slowDefineVirsh();
  // Its own process group, so the kill also ends the waiting virsh shims it started.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'vc', 'create', C, '--image', 'busy', '--nodes', '8',
    '--memory', '64M', '--scratch', 'disk:64M', '--images', images, ...common], {
    cwd: projectRoot(), stdio: 'ignore', detached: true, env: { ...process.env, PATH: `${shim}:${process.env.PATH}` },
  });
  const exited = new Promise((r) => child.once('exit', r));
  await until(`a domain of ${C} defined`, 120_000, () => virshNames('list').some((n) => n.startsWith(`${C}-`)));
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  const v = show(C);
  const actual = new Set(virshNames('list'));
  assert.is(v.phase, 'creating', 'killed before it finished');
  assert.is(v.operation?.kind, 'create');
  assert.is(v.operation?.interrupted, true);
  assert.equal(v.vms.map((vm) => vm.state === 'missing'), v.vms.map((vm) => !actual.has(vm.name)), 'missing exactly where libvirt has no domain');
  assert.ok(v.vms.some((vm) => vm.state === 'missing'), `some domains were not defined yet: ${v.vms.map((vm) => vm.state)}`);
  assert.match(ok(['show', C]).stdout, /interrupted: vc create .* was killed; run diskless vc start/);
  ok(['destroy', C]);
  assert.equal(ours(virshNames('list')).filter((n) => n.startsWith(C)), []);
  assert.not.ok(virshNames('net-list').includes(`vc-${C}`));
  assert.not.ok(existsSync(join(stateDir, 'vms', C)));
});

test('vc destroy of every VC: no domain, network, scratch disk or state entry left; the root image unchanged', () => {
  ok(['destroy', A]);
  ok(['destroy', B]);
  assert.equal(ours(virshNames('list')), []);
  assert.equal(ours(virshNames('net-list')), []);
  assert.equal(readdirSync(join(stateDir, 'vms')), []);
  assert.equal(JSON.parse(ok(['list', '--json']).stdout), []);
  assert.equal(Object.keys(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')).entries), []);
  assert.is(sha(root), rootSha);
  const r = vc(['show', A]);
  assert.is(r.code, 1);
  assert.match(r.out, `no VC named ${A}`);
});

test.run();
