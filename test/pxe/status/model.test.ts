// The status model: boot events (as the replica's servers and the node's reports emit
// them, through a real EventLog on a manual clock) in, each node's phases, failures and
// last boot out, checked against the published schema.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventLog, type BootEvent } from '../../../pxe/events.js';
import { StatusModel, mergeNodeViews } from '../../../pxe/status/model.js';
import { classify, phaseOfFile } from '../../../pxe/status/phases.js';
import { MAX_FAILURES, changeFacts } from '../../../pxe/status/nodes.js';
import { NodeViewSchema, type NodeView } from '../../../pxe/status/schema.js';
import type { InventoryNode } from '../../../cluster/inventory.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const NODES = [
  { name: 'n1', mac: '52:54:00:00:00:01', ip: '10.0.0.11', image: 'debian' },
  { name: 'n2', mac: '52:54:00:00:00:02', ip: '10.0.0.12', image: 'debian' },
] as InventoryNode[];

function rig() {
  let t = T0;
  const log = new EventLog({ format: 'json', write: () => undefined, now: () => new Date(t) });
  const model = new StatusModel(() => NODES);
  model.attach(log);
  const at = (ms: number, e: BootEvent) => {
    t = T0 + ms;
    log.emit({ node: 'n1', mac: NODES[0]!.mac, ...e });
  };
  const view = (ms: number, name = 'n1'): NodeView => NodeViewSchema.parse(model.nodeViews(T0 + ms).find((n) => n.name === name));
  return { log, model, at, view };
}

const http = (path: string, ms: number, status = 200): BootEvent => ({ kind: 'http', path, status, bytes: 100, ms });
const IMG = '/images/debian/20261201-1';

/** A whole BIOS boot as the replica sees it, from 0 to 9 s; the files' times are their ends. */
function fullBoot(at: ReturnType<typeof rig>['at'], base = 0) {
  at(base + 0, { kind: 'dhcp', type: 'offer', arch: 0, ipxe: false });
  at(base + 100, { kind: 'dhcp', type: 'ack', arch: 0, ipxe: false });
  at(base + 600, { kind: 'tftp', file: 'undionly.kpxe', status: 'done', bytes: 70000, ms: 400 }); // loader from 200
  at(base + 900, { kind: 'dhcp', type: 'offer', arch: 0, ipxe: true }); // iPXE's own DHCP: still the loader
  at(base + 1000, { kind: 'dhcp', type: 'ack', arch: 0, ipxe: true });
  at(base + 1100, http('/boot/52-54-00-00-00-01.ipxe', 20));
  at(base + 2000, http(`${IMG}/vmlinuz`, 800)); // kernel from 1200
  at(base + 2500, http(`${IMG}/initrd.img`, 400));
  at(base + 3000, { kind: 'dhcp', type: 'ack' }); // the initrd's udhcpc: no arch, no boot of its own
  at(base + 6000, http(`${IMG}/root.squashfs`, 2500)); // root from 3500
  at(base + 6500, { kind: 'report', what: 'init' });
  at(base + 9000, { kind: 'report', what: 'up' });
}

test('a whole boot: each phase with the time it began and how long it lasted, and the boot total', () => {
  const r = rig();
  fullBoot(r.at);
  const v = r.view(10_000);
  assert.is(v.phase, 'up');
  assert.is(v.failed, false);
  assert.equal(
    v.boot!.phases.map((p) => [p.phase, Date.parse(p.at) - T0, p.ms]),
    [['dhcp', 0, 200], ['loader', 200, 1000], ['kernel', 1200, 2300], ['root', 3500, 3000], ['init', 6500, 2500], ['up', 9000, 0]],
  );
  assert.is(v.boot!.ms, 9000);
  assert.is(v.lastBoot!.ms, 9000);
  assert.is(v.since, new Date(T0 + 9000).toISOString());
  assert.is(r.view(10_000, 'n2').phase, 'unknown');
});

test('the phase under way lasts until now; a running system renewing its lease starts no boot', () => {
  const r = rig();
  fullBoot(r.at);
  r.at(20_000, { kind: 'dhcp', type: 'ack' });
  assert.is(r.view(20_000).phase, 'up');
  const r2 = rig();
  r2.at(0, { kind: 'dhcp', type: 'ack', arch: 7 });
  r2.at(1000, { kind: 'tftp', file: 'ipxe.efi', status: 'done', bytes: 1, ms: 500 });
  const v = r2.view(4000);
  assert.is(v.phase, 'loader');
  assert.equal(v.boot!.phases.at(-1)!.ms, 3500);
  assert.is(v.lastBoot, undefined);
});

test('a reboot starts a new boot; the last boot that reached up is kept with its duration', () => {
  const r = rig();
  fullBoot(r.at);
  r.at(60_000, { kind: 'dhcp', type: 'offer', arch: 0 });
  const v = r.view(61_000);
  assert.is(v.phase, 'dhcp');
  assert.is(v.boot!.startedAt, new Date(T0 + 60_000).toISOString());
  assert.is(v.lastBoot!.ms, 9000);
  // DHCP again while still in DHCP: a retry of the same boot, which began at 60 s.
  fullBoot(r.at, 100_000);
  assert.is(r.view(110_000).lastBoot!.startedAt, new Date(T0 + 60_000).toISOString());
  assert.is(r.view(110_000).lastBoot!.ms, 49_000);
});

test('a boot seen from iPXE on (the storm simulator, or firmware answered by another replica) starts at its first phase seen', () => {
  const r = rig();
  r.at(0, { kind: 'dhcp', type: 'ack', arch: 0, ipxe: true });
  r.at(500, http(`${IMG}/vmlinuz`, 300));
  assert.is(r.view(500).phase, 'kernel');
  const r2 = rig();
  fullBoot(r2.at);
  r2.at(30_000, http(`${IMG}/vmlinuz`, 100)); // rebooted through another replica's DHCP and loader
  assert.is(r2.view(30_000).phase, 'kernel');
  assert.is(r2.view(30_000).boot!.startedAt, new Date(T0 + 29_900).toISOString());
});

test('a sha256 mismatch and a replica not answering show as failures with their message, until the node goes on', () => {
  const r = rig();
  r.at(0, { kind: 'dhcp', type: 'ack', arch: 0, ipxe: true });
  r.at(2000, http(`${IMG}/initrd.img`, 300));
  r.at(2500, { kind: 'report', what: 'fetch', message: 'no root.squashfs from http://10.0.0.2/images/debian/20261201-1/root.squashfs' });
  r.at(4000, { kind: 'report', what: 'sha256', message: 'sha256 mismatch for http://10.0.0.1/…/root.squashfs: refused' });
  r.at(4001, { kind: 'report', what: 'retry', message: 'could not get a good root image' });
  let v = r.view(5000);
  assert.is(v.phase, 'kernel');
  assert.is(v.failed, true);
  assert.equal(v.failures.map((f) => f.kind), ['fetch', 'sha256', 'retry']);
  assert.match(v.failures[1]!.message, 'sha256 mismatch');
  r.at(20_000, http(`${IMG}/root.squashfs`, 2000));
  v = r.view(20_000);
  assert.is(v.phase, 'root');
  assert.is(v.failed, false, 'a phase reached after the failures: no longer failing');
  assert.is(v.failures.length, 3, 'the boot keeps its failures');
});

test('HTTP errors for boot files and TFTP errors are failures; other paths and unknown nodes change nothing', () => {
  const r = rig();
  r.at(0, http(`${IMG}/vmlinuz`, 5, 404));
  r.at(10, { kind: 'tftp', file: 'undionly.kpxe', status: 'error', bytes: 0, ms: 3, error: 'timeout' });
  r.at(20, http('/status', 1));
  r.log.emit({ kind: 'report', what: 'up', node: 'stranger', mac: '52:54:00:ff:ff:ff' });
  r.log.emit({ kind: 'report', what: 'up' });
  const v = r.view(30);
  assert.equal(v.failures.map((f) => [f.kind, f.message]), [['http', `HTTP 404 for ${IMG}/vmlinuz`], ['tftp', 'TFTP undionly.kpxe: timeout']]);
  assert.is(v.failed, true);
  assert.is(r.model.boots.get('stranger'), undefined);
});

test('failures per boot are bounded', () => {
  const r = rig();
  for (let i = 0; i < MAX_FAILURES + 15; i++) r.at(i, { kind: 'report', what: 'retry', message: `round ${i}` });
  const v = r.view(100);
  assert.is(v.failures.length, MAX_FAILURES);
  assert.is(v.failures.at(-1)!.message, `round ${MAX_FAILURES + 14}`);
});

test('a node that leaves the inventory is forgotten', () => {
  let nodes = NODES;
  const m = new StatusModel(() => nodes);
  m.apply({ kind: 'report', what: 'up', node: 'n2', time: new Date(T0).toISOString() });
  assert.ok(m.boots.get('n2'));
  nodes = [NODES[0]!];
  m.inventoryChanged();
  assert.is(m.boots.get('n2'), undefined);
  m.apply({ kind: 'report', what: 'up', node: 'n2', time: new Date(T0).toISOString() });
  assert.is(m.boots.get('n2'), undefined);
});

test('files map to phases', () => {
  assert.is(phaseOfFile('/images/a/1/vmlinuz'), 'kernel');
  assert.is(phaseOfFile('/images/a/current/initrd.img'), 'kernel');
  assert.is(phaseOfFile('/images/a/1/xen.gz'), 'kernel');
  assert.is(phaseOfFile('/images/a/1/root.erofs'), 'root');
  assert.is(phaseOfFile('/images/a/1/service.squashfs'), 'root');
  assert.is(phaseOfFile('/images/a/1/manifest.json'), undefined);
  assert.is(phaseOfFile('/images/a/1/root.squashfs.sha256'), undefined);
  assert.is(phaseOfFile('/boot/52-54-00-00-00-01.grub.cfg'), 'loader');
  assert.is(phaseOfFile('/ipxe/ipxe.efi'), 'loader');
  assert.is(phaseOfFile('snponly.efi'), 'loader');
  assert.is(phaseOfFile('/status'), undefined);
  assert.is(classify({ kind: 'service', message: 'x' }), undefined);
  assert.is(classify({ kind: 'dhcp', type: 'release' }), undefined);
});

test('merged views: each node from the replica that saw it last, marked with that replica', () => {
  const a = rig();
  const b = rig();
  fullBoot(a.at);
  b.at(50_000, { kind: 'dhcp', type: 'ack', arch: 0 });
  const merged = mergeNodeViews([
    { replica: '10.0.0.1', nodes: a.model.nodeViews(T0 + 51_000) },
    { replica: '10.0.0.2', nodes: b.model.nodeViews(T0 + 51_000) },
  ]);
  assert.equal(merged.map((n) => [n.name, n.phase, n.seenBy]), [['n1', 'dhcp', '10.0.0.2'], ['n2', 'unknown', undefined]]);
  const mine = mergeNodeViews([{ replica: '10.0.0.2', nodes: b.model.nodeViews(T0) }, { replica: '10.0.0.1', nodes: a.model.nodeViews(T0 + 51_000) }]);
  assert.is(mine[0]!.seenBy, undefined, 'this replica’s own view is not marked');
});

test('a listener that throws stops neither the log nor the model', () => {
  const r = rig();
  r.log.subscribe(() => {
    throw new Error('boom');
  });
  fullBoot(r.at);
  assert.is(r.view(9000).phase, 'up');
});

test('subscribers hear each change: a boot begins, each phase reached with the one before it timed, up, failures', () => {
  const r = rig();
  const heard: string[] = [];
  r.model.subscribe((c) => {
    const f = changeFacts(c.before, c.after);
    if (f.newBoot) heard.push(`boot#${c.after.current!.n}`);
    if (f.reached) heard.push(`${f.reached.phase}${f.reached.previous ? `(${f.reached.previous.phase} ${f.reached.previous.ms})` : ''}`);
    if (f.up) heard.push('UP');
    if (f.failure) heard.push(`fail:${f.failure.kind}`);
  });
  r.model.subscribe(() => {
    throw new Error('a bad listener');
  });
  fullBoot(r.at);
  r.at(30_000, { kind: 'report', what: 'sha256', message: 'x' }); // the initrd after up: a boot this replica did not see begin
  for (let i = 0; i < MAX_FAILURES + 2; i++) r.at(31_000 + i, { kind: 'report', what: 'retry', message: `${i}` });
  assert.equal(heard.slice(0, 8), ['boot#1', 'dhcp', 'loader(dhcp 200)', 'kernel(loader 1000)', 'root(kernel 2300)', 'init(root 3000)', 'up(init 2500)', 'UP']);
  assert.equal(heard.slice(8, 11), ['boot#2', 'kernel', 'fail:sha256']);
  assert.is(heard.filter((h) => h === 'fail:retry').length, MAX_FAILURES + 2, 'every failure heard, past the cap too');
});

test.run();
