// The VC record: made from a spec and a placement before anything exists, carrying
// the operation in progress so a killed command is seen as such, counted into the
// hosts' allocations for the next placement; a second VC of one name is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { specFromFlags } from '../../vc/spec.js';
import { place } from '../../vc/placement.js';
import { GiB } from '../../vc/size.js';
import { FileStore } from '../../vc/store/file.js';
import {
  beginOperation,
  createVc,
  finishOperation,
  getVc,
  hostCapacities,
  interruptedOperation,
  listVcs,
  markStep,
  newVcRecord,
  setDesired,
  usedNetworks,
  vcKey,
  type Actor,
} from '../../vc/record.js';

const actor: Actor = { now: new Date('2026-12-01T18:00:00Z'), pid: 4242, pidStart: '777' };
const hosts = [{ name: 'h1', cores: 4, memoryBytes: 8 * GiB }];

function made(name: string, flags: Record<string, unknown> = {}) {
  const spec = specFromFlags({ name, image: 'debian', nodes: 2, cores: 'strict', ...flags });
  const p = place(hostCapacities(hosts, []), spec);
  if (!p.ok) throw new Error(p.reason);
  return newVcRecord(spec, { name: 'debian', version: 'v1' }, p.vms, actor);
}

test('a new record names every VM, its host, cores and identity, in phase creating under a create operation', () => {
  const r = made('lab');
  assert.is(r.phase, 'creating');
  assert.equal(r.operation, { kind: 'create', pid: 4242, pidStart: '777', startedAt: '2026-12-01T18:00:00.000Z' });
  assert.equal(r.image, { name: 'debian', version: 'v1' });
  assert.is(r.network.bridge, 'vc-lab');
  assert.equal(
    r.vms.map((v) => [v.domain, v.ip, v.host, v.cores, v.desired]),
    [
      ['lab-1', '10.213.0.2', 'h1', [0], 'stopped'],
      ['lab-2', '10.213.0.3', 'h1', [1], 'stopped'],
    ],
  );
  assert.equal(JSON.parse(JSON.stringify(r)), r, 'plain JSON');
});

test('operations: steps, finish, and an interrupted one seen by its dead pid', () => {
  let r = made('lab');
  r = markStep(r, 'defining lab-2', actor.now);
  assert.is(r.operation?.step, 'defining lab-2');
  assert.is(interruptedOperation(r, () => true), undefined, 'its process still runs');
  assert.is(interruptedOperation(r, (pid, start) => pid === 4242 && start !== '777'), r.operation, 'the pid is reused: interrupted');
  const later = new Date('2026-12-01T18:01:00Z');
  r = setDesired(finishOperation(r, later, { phase: 'ready' }), 'running', [2]);
  assert.is(r.operation, undefined);
  assert.is(r.phase, 'ready');
  assert.is(r.updatedAt, '2026-12-01T18:01:00.000Z');
  assert.equal(r.vms.map((v) => v.desired), ['stopped', 'running']);
  r = beginOperation(r, 'destroy', { ...actor, now: later }, { phase: 'destroying' });
  assert.equal([r.phase, r.operation?.kind], ['destroying', 'destroy']);
});

test('host allocations count every recorded VM, so the next VC gets other cores', () => {
  const a = made('a');
  const caps = hostCapacities(hosts, [a]);
  assert.equal(caps, [{ name: 'h1', cores: 4, memoryBytes: 8 * GiB, pinnedCores: [0, 1], allocatedMemoryBytes: 1 * GiB }]);
  const spec = specFromFlags({ name: 'b', image: 'debian', nodes: 2, cores: 'strict', network: '10.9.0.0/24' });
  const p = place(caps, spec);
  assert.equal(p.ok && p.vms.map((v) => v.cores), [[2], [3]]);
  assert.equal(usedNetworks([a]), ['10.213.0.0/24']);
});

test('the store: a second VC of one name is refused with the fix; list and get', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-vcrec-'));
  try {
    const store = new FileStore({ dir });
    await createVc(store, made('lab'));
    await createVc(store, made('lab2'));
    await createVc(store, made('lab')).then(
      () => assert.unreachable('the name is in use'),
      (err: Error) => assert.is(err.message, 'a VC named lab exists already: pick another name, or remove it with diskless vc destroy lab'),
    );
    assert.equal((await listVcs(store)).map((e) => e.key), [vcKey('lab'), vcKey('lab2')]);
    assert.is((await getVc(store, 'lab2'))?.value.spec.name, 'lab2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
