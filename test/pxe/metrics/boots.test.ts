// Boot counters and phase histograms from a known sequence of boot events, folded as the
// status model folds them (pxe/status/), read back with the strict parser.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BootEvent } from '../../../pxe/events.js';
import { ServiceMetrics } from '../../../pxe/metrics/metrics.js';
import { countStep } from '../../../pxe/metrics/boots.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prom-text.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const IMG = '/images/debian/v1';

/** node01 boots cleanly through UEFI iPXE; node02 gets a 404 for its root, its initrd says sha256 and retry, it reboots. */
const STORY: BootEvent[] = [
  { time: at(0), node: 'node01', kind: 'dhcp', mac: 'm1', type: 'offer', arch: 7 },
  { time: at(0.1), node: 'node01', kind: 'dhcp', mac: 'm1', type: 'ack', arch: 7 },
  { time: at(0.5), node: 'node01', kind: 'tftp', file: 'ipxe.efi', status: 'done', bytes: 1e6, ms: 200 },
  { time: at(1), node: 'node01', kind: 'dhcp', mac: 'm1', type: 'ack', ipxe: true, arch: 7 },
  { time: at(1.2), node: 'node01', kind: 'http', path: '/boot/m1.ipxe', status: 200, bytes: 500, ms: 10 },
  { time: at(3), node: 'node01', kind: 'http', path: `${IMG}/vmlinuz`, status: 200, bytes: 8e6, ms: 1000 },
  { time: at(4), node: 'node01', kind: 'http', path: `${IMG}/initrd.img`, status: 200, bytes: 3e7, ms: 1500 },
  { time: at(10), node: 'node01', kind: 'http', path: `${IMG}/root.squashfs`, status: 200, bytes: 3e8, ms: 5000 },
  { time: at(12), node: 'node01', kind: 'report', what: 'init' },
  { time: at(20), node: 'node01', kind: 'report', what: 'up' },
  { time: at(21), node: 'node01', kind: 'report', what: 'up' }, // said twice: one boot
  { time: at(0), node: 'node02', kind: 'dhcp', mac: 'm2', type: 'ack', arch: 0 },
  { time: at(2), node: 'node02', kind: 'http', path: `${IMG}/vmlinuz`, status: 200, bytes: 8e6, ms: 1000 },
  { time: at(5), node: 'node02', kind: 'http', path: `${IMG}/root.squashfs`, status: 404, bytes: 20, ms: 1 },
  { time: at(6), node: 'node02', kind: 'report', what: 'sha256', message: 'sha256 mismatch' },
  { time: at(7), node: 'node02', kind: 'report', what: 'retry', message: 'could not get a good root image' },
  { time: at(30), node: 'node02', kind: 'dhcp', mac: 'm2', type: 'ack', arch: 0 },
  // Of no node, or of no boot: nothing.
  { time: at(31), kind: 'dhcp', mac: 'm9', type: 'ack', arch: 0 },
  { time: at(31), node: 'node01', kind: 'http', path: '/status', status: 200, bytes: 10, ms: 1 },
];

test('a known run: boots started, finished and failed, failures by kind, phase and boot durations', async () => {
  const m = new ServiceMetrics();
  for (const e of STORY) m.observe(e);
  const f = parsePrometheusText((await m.render()).body);
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(f, `diskless_${name}`, labels);
  assert.is(v('boots_started_total'), 3, 'node01 once, node02 twice');
  assert.is(v('boots_finished_total'), 1);
  assert.is(v('boots_failed_total'), 1);
  assert.is(v('boot_failures_total', { kind: 'http' }), 1);
  assert.is(v('boot_failures_total', { kind: 'sha256' }), 1);
  assert.is(v('boot_failures_total', { kind: 'retry' }), 1);
  assert.is(v('boot_failures_total', { kind: 'tftp' }), 0);
  // node01: dhcp 0 → loader 0.3 (the TFTP transfer's start) → kernel 2 → root 5 → init 12 → up 20.
  // node02: dhcp 0 → kernel 1.
  const phase = (p: string) => [v('boot_phase_seconds_count', { phase: p }), Number(v('boot_phase_seconds_sum', { phase: p })!.toFixed(3))];
  assert.equal(phase('dhcp'), [2, 1.3]);
  assert.equal(phase('loader'), [1, 1.7]);
  assert.equal(phase('kernel'), [1, 3]);
  assert.equal(phase('root'), [1, 7]);
  assert.equal(phase('init'), [1, 8]);
  assert.is(v('boot_phase_seconds_bucket', { phase: 'dhcp', le: '0.25' }), 0);
  assert.is(v('boot_phase_seconds_bucket', { phase: 'dhcp', le: '1' }), 2);
  assert.is(v('boot_seconds_count'), 1);
  assert.is(v('boot_seconds_sum'), 20);
  assert.is(v('boot_seconds_bucket', { le: '20' }), 1);
  assert.is(v('boot_seconds_bucket', { le: '10' }), 0);
});

test('a boot seen only from its report of up counts started and finished, with no length', () => {
  const n = countStep({}, { phase: 'up', at: T0 });
  assert.ok(n.started);
  assert.equal(n.finished, {});
  assert.is(n.phaseDone, undefined);
});

test('a failure first seen opens a boot (the status model\'s account), its first failure', () => {
  const n = countStep({}, { failure: 'sha256', at: T0, message: 'x' });
  assert.ok(n.started);
  assert.equal(n.failure, { kind: 'sha256', first: true });
  const m = countStep(n.after, { failure: 'retry', at: T0 + 1, message: 'y' });
  assert.not.ok(m.started);
  assert.equal(m.failure, { kind: 'retry', first: false });
});

test.run();
