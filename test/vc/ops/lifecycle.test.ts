// The VC operations against the in-memory hypervisor: create, start, stop, save,
// restore, destroy; each run twice changes nothing the second time; show and list
// tell the record beside the driver's states.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadSpecFile } from '../../../vc/spec.js';
import { join } from 'node:path';
import { createVcOp } from '../../../vc/ops/create.js';
import { startOp, stopOp } from '../../../vc/ops/power.js';
import { restoreOp, saveOp } from '../../../vc/ops/snapshot.js';
import { destroyOp } from '../../../vc/ops/destroy.js';
import { formatList, formatShow, listOp, showOp } from '../../../vc/ops/view.js';
import { getVc } from '../../../vc/record.js';
import { rejects, setup } from './setup.js';

const lab = { name: 'lab', image: 'deb', nodes: 3, memory: '256M', scratch: 'disk:16M' };

test('create: the record first, then network, scratch disks and domains; nothing started', async () => {
  const t = setup();
  const rec = await createVcOp(t.ctx, t.input(lab));
  assert.is(rec.phase, 'ready');
  assert.is(rec.operation, undefined);
  assert.equal(rec.vms.map((vm) => [vm.domain, vm.ip, vm.host, vm.desired]), [
    ['lab-1', '10.213.0.2', 'h1', 'stopped'],
    ['lab-2', '10.213.0.3', 'h1', 'stopped'],
    ['lab-3', '10.213.0.4', 'h1', 'stopped'],
  ]);
  assert.equal([...t.driver.networks.keys()], ['vc-lab']);
  assert.is(t.driver.networks.get('vc-lab')!.gateway, false);
  assert.equal(t.vmFilesOf('lab'), ['lab-1.qcow2', 'lab-2.qcow2', 'lab-3.qcow2']);
  assert.ok(existsSync(join(t.stateDir, 'bases', `ext4-${16 * 2 ** 20}.qcow2`)), 'one formatted base');
  const d = t.driver.domains.get('lab-2')!;
  assert.is(d.state, 'shut off');
  assert.is(d.def.kernel, join(t.images.dir, 'vmlinuz'));
  assert.is(d.def.rootImage, join(t.images.dir, 'root.squashfs'));
  assert.match(d.def.cmdline, /^console=ttyS0,115200 quiet diskless\.image=\S+ diskless\.name=lab-2 diskless\.rootdev=serial:root diskless\.scratch=serial:scratch diskless\.ip=10\.213\.0\.3\/24$/);
  assert.equal(d.def.scratch, { kind: 'disk', path: join(t.stateDir, 'vms/lab/lab-2.qcow2') });
  assert.is(d.def.consoleLog, join(t.stateDir, 'vms/lab/lab-2.console.log'));
  assert.is(d.def.memoryBytes, 256 * 2 ** 20);
  assert.is(d.def.pinnedCores, undefined);
  assert.match(t.log.lines.join('\n'), /\[3\/3\] domains: done/);
  assert.ok(t.driver.calls.indexOf('net-define vc-lab') < t.driver.calls.indexOf('define lab-1'), 'network before domains');
});

test('create --start with strict cores: pinned, running, and show has every column', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input({ ...lab, vcpus: 1, cores: 'strict', gateway: true, scratch: 'ram' }, true));
  assert.equal([...t.driver.domains.values()].map((d) => [d.state, d.def.pinnedCores, d.def.scratch.kind]), [
    ['running', [0], 'ram'], ['running', [1], 'ram'], ['running', [2], 'ram'],
  ]);
  assert.match(t.driver.domains.get('lab-1')!.def.cmdline, 'diskless.scratch=ram diskless.ip=10.213.0.2/24,10.213.0.1');
  assert.equal(t.vmFilesOf('lab'), [], 'no scratch disks with --scratch ram');
  const v = await showOp(t.ctx, 'lab');
  assert.equal(Object.keys(v).sort(), ['cores', 'createdAt', 'gateway', 'image', 'libvirt', 'name', 'network', 'operation', 'phase', 'placement', 'scratch', 'vms']);
  assert.equal(v.vms[2], {
    name: 'lab-3', host: 'h1', state: 'running', desired: 'running', address: '10.213.0.4', mac: v.vms[2]!.mac, vcpus: 1,
    pinnedCores: [2], memoryBytes: 256 * 2 ** 20, consoleLog: join(t.stateDir, 'vms/lab/lab-3.console.log'), scratch: null,
  });
  assert.is(v.image, `deb/${t.images.version}`);
  const text = formatShow(v);
  assert.match(text, /NAME\s+HOST\s+STATE\s+ADDRESS\s+VCPUS\s+PINNED\s+MEMORY\s+CONSOLE/);
  assert.match(text, /lab-3\s+h1\s+running\s+10\.213\.0\.4\s+1\s+2\s+256 MiB\s+\S+lab-3\.console\.log/);
  assert.match(formatList(await listOp(t.ctx)), /lab\s+ready\s+3\s+3\s+10\.213\.0\.0\/24/);
});

test('a second VC takes the next free network; list shows both', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab));
  await createVcOp(t.ctx, t.input({ ...lab, name: 'other', nodes: 1 }));
  const vs = await listOp(t.ctx);
  assert.equal(vs.map((v) => [v.name, v.network, v.vms.length]), [['lab', '10.213.0.0/24', 3], ['other', '10.213.1.0/24', 1]]);
});

test('stop then start, each twice: only the VMs that differ are touched', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.calls = [];
  await startOp(t.ctx, 'lab');
  assert.not.ok(t.driver.calls.some((c) => c.startsWith('start ')), 'running VMs are not started again');
  await stopOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => d.state), ['shut off', 'shut off', 'shut off']);
  assert.equal((await getVc(t.store, 'lab'))!.value.vms.map((vm) => vm.desired), ['stopped', 'stopped', 'stopped']);
  t.driver.calls = [];
  await stopOp(t.ctx, 'lab');
  assert.not.ok(t.driver.calls.some((c) => c.startsWith('shutdown ')), 'stopped VMs are not shut down again');
  t.driver.acpi = false;
  await startOp(t.ctx, 'lab');
  await stopOp(t.ctx, 'lab');
  assert.match(t.log.lines.join('\n'), /lab-1: powered off \(no ACPI shutdown within 60s\)/);
  await startOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => [d.state, d.boots]), [['running', 3], ['running', 3], ['running', 3]]);
});

test('save pauses every VM before saving any; restore restores all paused before resuming any', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.calls = [];
  await saveOp(t.ctx, 'lab');
  const c = t.driver.calls;
  const lastSuspend = Math.max(...['lab-1', 'lab-2', 'lab-3'].map((n) => c.indexOf(`suspend ${n}`)));
  const firstSave = c.findIndex((x) => x.startsWith('save '));
  assert.ok(lastSuspend >= 0 && lastSuspend < firstSave, `suspends before saves: ${c.join(', ')}`);
  assert.equal(t.vmFilesOf('lab').filter((f) => f.endsWith('.save')), ['lab-1.save', 'lab-2.save', 'lab-3.save']);
  const v = await showOp(t.ctx, 'lab');
  assert.equal(v.vms.map((vm) => [vm.state, vm.desired]), [['shut off', 'saved'], ['shut off', 'saved'], ['shut off', 'saved']]);
  assert.match(formatShow(v), /lab-1\s+h1\s+saved\s/);
  t.driver.calls = [];
  await saveOp(t.ctx, 'lab'); // again: nothing left to do
  assert.not.ok(t.driver.calls.some((x) => /^(suspend|save) /.test(x)));
  await restoreOp(t.ctx, 'lab');
  const r = t.driver.calls;
  const lastRestore = Math.max(...r.map((x, i) => (x.startsWith('restore ') ? i : -1)));
  const firstResume = r.findIndex((x) => x.startsWith('resume '));
  assert.ok(lastRestore >= 0 && lastRestore < firstResume, `restores before resumes: ${r.join(', ')}`);
  assert.equal([...t.driver.domains.values()].map((d) => [d.state, d.boots]), [['running', 1], ['running', 1], ['running', 1]], 'no VM booted again');
  assert.equal(t.vmFilesOf('lab').filter((f) => f.endsWith('.save')), [], 'save files removed once resumed');
  assert.equal((await getVc(t.store, 'lab'))!.value.vms.map((vm) => vm.desired), ['running', 'running', 'running']);
  await rejects(restoreOp(t.ctx, 'lab'), /VC lab was not saved .*diskless vc save lab/);
});

test('start of a saved VC restores it; save of a stopped VC is refused', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  await saveOp(t.ctx, 'lab');
  await startOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => [d.state, d.boots]), [['running', 1], ['running', 1], ['running', 1]]);
  await stopOp(t.ctx, 'lab');
  await rejects(saveOp(t.ctx, 'lab'), /VC lab cannot be saved: lab-1, lab-2, lab-3 are not running; start it first: diskless vc start lab/);
});

test('destroy removes every domain, disk, save file, the network and the record; twice is refused by name', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  await createVcOp(t.ctx, t.input({ ...lab, name: 'keep', nodes: 1 }, true));
  await saveOp(t.ctx, 'lab');
  await destroyOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.keys()], ['keep-1']);
  assert.equal([...t.driver.networks.keys()], ['vc-keep']);
  assert.not.ok(existsSync(join(t.stateDir, 'vms/lab')));
  assert.is(await getVc(t.store, 'lab'), undefined);
  await rejects(destroyOp(t.ctx, 'lab'), /no VC named lab; there are: keep/);
  await rejects(showOp(t.ctx, 'lab'), /no VC named lab/);
});

test('show and list when libvirt is down: the record, states unknown, the reason', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.down = true;
  const v = await showOp(t.ctx, 'lab');
  assert.equal(v.vms.map((vm) => vm.state), ['unknown', 'unknown', 'unknown']);
  assert.match(v.libvirt!, 'libvirt is not running');
  assert.match(formatShow(v), /states unknown: libvirt is not running/);
  assert.match(JSON.stringify(await listOp(t.ctx)), /"libvirt":"libvirt is not running/);
});

test('the state file holds the record as JSON, readable by jq', () => {
  const t = setup();
  return createVcOp(t.ctx, t.input(lab)).then(() => {
    const doc = JSON.parse(readFileSync(join(t.stateDir, 'state.json'), 'utf8'));
    assert.equal(Object.keys(doc.entries), ['vc/lab']);
    assert.is(doc.entries['vc/lab'].value.boot.kernel, join(t.images.dir, 'vmlinuz'));
  });
});

test('create from a declared vc.yaml: the same fields', async () => {
  const t = setup();
  const file = join(t.stateDir, 'vc.yaml');
  writeFileSync(file, 'name: hpc\nimage: deb\nnodes: 2\nvcpus: 2\ncores: strict\nplacement: cyclic\nmemory: 1G\nscratch: ram\nnetwork: 10.40.0.0/29\n');
  const rec = await createVcOp(t.ctx, { imagesDir: t.images.root, spec: (o) => loadSpecFile(file, o) });
  assert.equal(rec.vms.map((vm) => [vm.domain, vm.ip, vm.cores]), [['hpc-1', '10.40.0.2', [0, 1]], ['hpc-2', '10.40.0.3', [2, 3]]]);
  assert.is(t.driver.domains.get('hpc-2')!.def.memoryBytes, 2 ** 30);
});

test('a failure half-way says how to finish or remove the VC', async () => {
  const t = setup();
  t.driver.failOn = /^define lab-2$/;
  await rejects(createVcOp(t.ctx, t.input(lab)), /fake failure/);
  assert.match(t.log.lines.join('\n'), 'VC lab is half made: diskless vc start lab finishes it, diskless vc destroy lab removes it');
});

test.run();
