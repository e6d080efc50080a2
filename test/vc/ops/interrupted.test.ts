// A command killed half-way leaves a record that names everything it may have made:
// show tells the truth (phase, the operation and its step, what the driver has), and
// destroy, start, save or restore run again finish from where it stopped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createVcOp } from '../../../vc/ops/create.js';
import { startOp, stopOp } from '../../../vc/ops/power.js';
import { restoreOp, saveOp } from '../../../vc/ops/snapshot.js';
import { destroyOp } from '../../../vc/ops/destroy.js';
import { formatShow, listOp, showOp } from '../../../vc/ops/view.js';
import { getVc, vcKey } from '../../../vc/record.js';
import { rejects, setup } from './setup.js';

const lab = { name: 'lab', image: 'deb', nodes: 3, memory: '256M', scratch: 'disk:16M' };

/** Create until the driver fails on `at`, then treat the process that ran it as dead. */
async function killedCreate(at: RegExp) {
  let dead = false;
  const t = setup({ alive: (pid) => pid === process.pid && !dead });
  t.driver.failOn = at;
  await rejects(createVcOp(t.ctx, t.input(lab)), /fake failure/);
  t.driver.failOn = undefined;
  dead = true;
  return t;
}

test('create killed after its first domain: show is truthful, destroy cleans up everything', async () => {
  const t = await killedCreate(/^define lab-2$/);
  const v = await showOp(t.ctx, 'lab');
  assert.is(v.phase, 'creating');
  assert.is(v.operation!.kind, 'create');
  assert.is(v.operation!.interrupted, true);
  assert.is(v.operation!.step, 'defined lab-1');
  assert.equal(v.vms.map((vm) => vm.state), ['shut off', 'missing', 'missing']);
  const text = formatShow(v);
  assert.match(text, /interrupted: vc create \(at defined lab-1\), pid \d+, .* was killed; run diskless vc start lab to finish it, or diskless vc destroy lab/);
  assert.match(text, /lab-2\s+h1\s+missing \(wants stopped\)/);
  assert.equal((await listOp(t.ctx)).map((x) => [x.name, x.phase, x.operation?.interrupted]), [['lab', 'creating', true]]);
  assert.equal(t.vmFilesOf('lab'), ['lab-1.qcow2', 'lab-2.qcow2', 'lab-3.qcow2']);
  await destroyOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.keys()], []);
  assert.equal([...t.driver.networks.keys()], []);
  assert.not.ok(existsSync(join(t.stateDir, 'vms/lab')));
  assert.is(await getVc(t.store, 'lab'), undefined);
  assert.ok(t.driver.calls.includes('undefine lab-3'), 'a missing domain is skipped, not an error');
});

test('create killed before the network: destroy still cleans up', async () => {
  const t = await killedCreate(/^net-define /);
  assert.equal((await showOp(t.ctx, 'lab')).vms.map((vm) => vm.state), ['missing', 'missing', 'missing']);
  await destroyOp(t.ctx, 'lab');
  assert.is(await getVc(t.store, 'lab'), undefined);
});

test('vc start finishes an interrupted create, then starts it', async () => {
  const t = await killedCreate(/^define lab-3$/);
  await startOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => d.state), ['running', 'running', 'running']);
  const rec = (await getVc(t.store, 'lab'))!.value;
  assert.is(rec.phase, 'ready');
  assert.is(rec.operation, undefined);
  assert.equal(t.driver.calls.filter((c) => c.startsWith('define ')), ['define lab-1', 'define lab-2', 'define lab-3', 'define lab-3'], 'only the missing domain is defined again');
});

test('stop and save refuse a half-made VC and say what to run', async () => {
  const t = await killedCreate(/^define lab-2$/);
  await rejects(stopOp(t.ctx, 'lab'), /VC lab is half made: run diskless vc start lab/);
  await rejects(saveOp(t.ctx, 'lab'), /VC lab is half made: run diskless vc start lab/);
});

test('destroy killed half-way: show says destroying, destroy again finishes', async () => {
  let dead = false;
  const t = setup({ alive: (pid) => pid === process.pid && !dead });
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.failOn = /^undefine lab-2$/;
  await rejects(destroyOp(t.ctx, 'lab'), /fake failure/);
  t.driver.failOn = undefined;
  dead = true;
  const v = await showOp(t.ctx, 'lab');
  assert.is(v.phase, 'destroying');
  assert.match(formatShow(v), /interrupted: vc destroy, pid \d+, .* was killed; run diskless vc destroy lab/);
  await rejects(startOp(t.ctx, 'lab'), /VC lab was being destroyed; finish with: diskless vc destroy lab/);
  await destroyOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.keys()], []);
  assert.is(await getVc(t.store, 'lab'), undefined);
});

test('save killed half-way: save again saves the rest; restore brings all back without a boot', async () => {
  let dead = false;
  const t = setup({ alive: (pid) => pid === process.pid && !dead });
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.failOn = /^save lab-2$/;
  await rejects(saveOp(t.ctx, 'lab'), /fake failure/);
  t.driver.failOn = undefined;
  dead = true;
  assert.is(t.driver.domains.get('lab-2')!.state, 'paused', 'paused with the others, not saved');
  await saveOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => d.state), ['shut off', 'shut off', 'shut off']);
  await restoreOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => [d.state, d.boots]), [['running', 1], ['running', 1], ['running', 1]]);
});

test('restore killed after restoring: restore again resumes the paused ones', async () => {
  let dead = false;
  const t = setup({ alive: (pid) => pid === process.pid && !dead });
  await createVcOp(t.ctx, t.input(lab, true));
  await saveOp(t.ctx, 'lab');
  t.driver.failOn = /^resume lab-1$/;
  await rejects(restoreOp(t.ctx, 'lab'), /fake failure/);
  t.driver.failOn = undefined;
  dead = true;
  assert.is(t.driver.domains.get('lab-1')!.state, 'paused');
  await restoreOp(t.ctx, 'lab');
  assert.equal([...t.driver.domains.values()].map((d) => d.state), ['running', 'running', 'running']);
  assert.equal(t.vmFilesOf('lab').filter((f) => f.endsWith('.save')), []);
});

test('a VC another live command works on is refused, naming the pid', async () => {
  const t = setup({ alive: () => true });
  await createVcOp(t.ctx, t.input(lab));
  const e = (await getVc(t.store, 'lab'))!;
  await t.store.put(vcKey('lab'), { ...e.value, operation: { kind: 'save', pid: 1, pidStart: '', startedAt: 'x', step: 'saving lab-1' } }, e.revision);
  await rejects(destroyOp(t.ctx, 'lab'), /VC lab is busy: pid 1 is running vc save \(saving lab-1\)/);
  assert.match(formatShow(await showOp(t.ctx, 'lab')), /in progress: vc save \(at saving lab-1\), pid 1/);
});

test.run();
