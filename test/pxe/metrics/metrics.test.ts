// /metrics from the boot events and sync reports, read back with a strict parser: each
// counter is the count of its events; what the servers count themselves is read at
// the scrape; two services in one process keep their numbers apart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventLog, type BootEvent } from '../../../pxe/events.js';
import { ServiceMetrics } from '../../../pxe/metrics/metrics.js';
import { httpErrorClass, httpRoute, tftpErrorKind } from '../../../pxe/metrics/kinds.js';
import type { SyncReport } from '../../../pxe/replica/sync.js';
import type { DhcpStats } from '../../../pxe/dhcp/server.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prom-text.js';

const scrape = async (m: ServiceMetrics) => parsePrometheusText((await m.render()).body);
const quietLog = () => new EventLog({ format: 'json', write: () => undefined });

test('kinds: an HTTP path becomes its route, a TFTP failure the kind its message names', () => {
  assert.is(httpRoute('/boot/52-54-00-77-00-01.ipxe'), 'boot-script');
  assert.is(httpRoute('/images/a/v1/root.squashfs?x=1'), 'artifact');
  assert.is(httpRoute('/metrics'), 'metrics');
  assert.is(httpRoute('/../etc/passwd'), 'not-found');
  assert.is(httpErrorClass(200), undefined);
  assert.is(httpErrorClass(304), undefined);
  assert.is(httpErrorClass(404), '4xx');
  assert.is(httpErrorClass(503), '5xx');
  const table: [string | undefined, string][] = [
    ["'nope.bin' not found", 'not_found'],
    ["refused path '../x'", 'access'],
    ["'x' leads outside the root", 'access'],
    ["'boot' is not a regular file", 'access'],
    ["cannot read 'x': EIO", 'access'],
    ['timed out after 5 retries', 'timeout'],
    ['no ACK 0 for the OACK within 15 s', 'timeout'],
    ['client sent ERROR 0: cancelled', 'client_abort'],
    ['transfer took longer than its limit of 60 s', 'too_long'],
    ['server busy: a new request took the slot of this unacknowledged transfer', 'evicted'],
    ['server closed', 'shutdown'],
    ['send: EPERM', 'io'],
    ['no transfer socket: EMFILE', 'io'],
    ['something new', 'other'],
    [undefined, 'other'],
  ];
  for (const [msg, kind] of table) assert.is(tftpErrorKind(msg), kind, String(msg));
});

const RUN: BootEvent[] = [
  { kind: 'dhcp', mac: '52:54:00:77:00:01', type: 'offer' },
  { kind: 'dhcp', mac: '52:54:00:77:00:01', type: 'ack' },
  { kind: 'dhcp', mac: '52:54:00:77:00:02', type: 'offer' },
  { kind: 'dhcp', mac: '52:54:00:77:00:09', type: 'ignored', detail: 'unknown' },
  { kind: 'tftp', file: 'undionly.kpxe', status: 'done', bytes: 70_000, ms: 30 },
  { kind: 'tftp', file: 'nope', status: 'error', bytes: 0, ms: 1, error: "'nope' not found" },
  { kind: 'tftp', file: 'x', status: 'error', bytes: 512, ms: 25_000, error: 'timed out after 5 retries' },
  { kind: 'http', path: '/boot/52-54-00-77-00-01.ipxe', status: 200, bytes: 600, ms: 2 },
  { kind: 'http', path: '/images/a/v1/vmlinuz', status: 200, bytes: 8_000_000, ms: 90 },
  { kind: 'http', path: '/images/a/v1/vmlinuz', status: 206, bytes: 1000, ms: 3, range: 'bytes=0-999' },
  { kind: 'http', path: '/images/a/v9/vmlinuz', status: 404, bytes: 40, ms: 1 },
  { kind: 'http', path: '/nothing', status: 404, bytes: 15, ms: 1 },
  { kind: 'service', message: 'hello' },
];

test('every counter is the count of its events, subscribed to the event log', async () => {
  const m = new ServiceMetrics();
  const log = quietLog();
  const off = log.subscribe((e) => m.observe(e));
  for (const e of RUN) log.emit(e);
  log.emit({ kind: 'http', path: '/status', status: 200, bytes: 300, ms: 1, client: '10.0.0.2' }, { quiet: true });
  off();
  log.emit({ kind: 'dhcp', mac: '52:54:00:77:00:01', type: 'ack' }); // after unsubscribing: not counted
  const f = await scrape(m);
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(f, `diskless_${name}`, labels);
  assert.is(v('dhcp_requests_total', { outcome: 'offer' }), 2);
  assert.is(v('dhcp_requests_total', { outcome: 'ack' }), 1);
  assert.is(v('dhcp_requests_total', { outcome: 'ignored' }), 1);
  assert.is(v('dhcp_requests_total', { outcome: 'nak' }), 0, 'known outcomes start at 0');
  assert.is(v('tftp_transfers_total', { status: 'done' }), 1);
  assert.is(v('tftp_transfers_total', { status: 'error' }), 2);
  assert.is(v('tftp_errors_total', { kind: 'not_found' }), 1);
  assert.is(v('tftp_errors_total', { kind: 'timeout' }), 1);
  assert.is(v('tftp_errors_total', { kind: 'access' }), 0);
  assert.is(v('tftp_sent_bytes_total'), 70_512);
  assert.is(v('http_requests_total', { route: 'boot-script', code: '200' }), 1);
  assert.is(v('http_requests_total', { route: 'artifact', code: '200' }), 1);
  assert.is(v('http_requests_total', { route: 'artifact', code: '206' }), 1);
  assert.is(v('http_requests_total', { route: 'artifact', code: '404' }), 1);
  assert.is(v('http_requests_total', { route: 'not-found', code: '404' }), 1);
  assert.is(v('http_requests_total', { route: 'status', code: '200' }), 1, 'a quiet event is counted too');
  assert.is(v('http_errors_total', { route: 'artifact', class: '4xx' }), 1);
  assert.is(v('http_errors_total', { route: 'not-found', class: '4xx' }), 1);
  assert.is(v('http_sent_bytes_total', { route: 'artifact' }), 8_001_040);
  assert.is(log.recent.filter((e) => e.kind === 'http' && e.path === '/status').length, 0, 'a quiet event is not kept');
  assert.is(f.get('diskless_http_requests_total')!.type, 'counter');
});

const report = (r: Partial<SyncReport>): SyncReport => ({ pulled: [], rejected: [], unreachable: [], pruned: [], refusals: [], ...r });

test('sync rounds: pulls, refusals by what, adoptions, conflicts, unreachable peers, failed rounds', async () => {
  const m = new ServiceMetrics();
  m.syncRound(report({ pulled: ['a/v1', 'a/v2'], unreachable: ['10.0.0.3:80'] }));
  m.syncRound(report({ refusals: [{ what: 'image', peer: '10.0.0.2' }, { what: 'inventory', peer: '10.0.0.2' }], inventory: 'conflict' }));
  m.syncRound(report({ inventory: 'adopted', pruned: ['a/v0'], refusals: [{ what: 'image', peer: '10.0.0.3' }] }));
  m.syncRound(new Error('disk full'));
  const f = await scrape(m);
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(f, `diskless_${name}`, labels);
  assert.is(v('sync_rounds_total', { result: 'ok' }), 3);
  assert.is(v('sync_rounds_total', { result: 'failed' }), 1);
  assert.is(v('sync_pulls_total'), 2);
  assert.is(v('sync_refusals_total', { what: 'image' }), 2);
  assert.is(v('sync_refusals_total', { what: 'inventory' }), 1);
  assert.is(v('sync_inventory_adopted_total'), 1);
  assert.is(v('sync_inventory_conflicts_total'), 1);
  assert.is(v('sync_unreachable_total'), 1);
  assert.is(v('sync_pruned_total'), 1);
});

test('read at the scrape: DHCP drops, HTTP connections, TFTP evictions, replica liveness', async () => {
  const m = new ServiceMetrics();
  let f = await scrape(m);
  assert.is(sampleValue(f, 'diskless_replica_up', { replica: '10.0.0.1' }), undefined, 'nothing before the servers are watched');
  assert.is(sampleValue(f, 'diskless_http_connections_open'), 0, 'a server not started counts 0');
  const stats: DhcpStats = { received: 40, malformed: 3, malformedBy: { short: 2, cookie: 1 }, replies: 30, ignored: 5, unsendable: 0, sendErrors: 1, policyErrors: 0, limited: { mac: 4, source: 0 } };
  let silent = 12.5;
  m.watch({
    dhcp: () => stats,
    http: () => ({ open: 7, refused: 2 }),
    tftp: () => ({ activeTransfers: 3, evictions: 1 }),
    inventoryVersion: () => 5,
    replicas: () => [
      { replica: '10.0.0.1', live: true },
      { replica: '10.0.0.2', live: true, silentFor: 1.5 },
      { replica: '10.0.0.3', live: silent < 10, silentFor: silent },
      { replica: '10.0.0.4', live: false },
    ],
  });
  f = await scrape(m);
  const v = (name: string, labels: Record<string, string> = {}) => sampleValue(f, `diskless_${name}`, labels);
  assert.is(v('dhcp_packets_received_total'), 40);
  assert.is(v('dhcp_errors_total', { kind: 'malformed', reason: 'short' }), 2);
  assert.is(v('dhcp_errors_total', { kind: 'malformed', reason: 'cookie' }), 1);
  assert.is(v('dhcp_errors_total', { kind: 'rate_limited', reason: 'mac' }), 4);
  assert.is(v('dhcp_errors_total', { kind: 'send_error' }), 1);
  assert.is(v('http_connections_open'), 7);
  assert.is(v('http_connections_refused_total'), 2);
  assert.is(v('tftp_transfers_active'), 3);
  assert.is(v('tftp_evictions_total'), 1);
  assert.is(v('inventory_version'), 5);
  assert.is(v('replica_up', { replica: '10.0.0.1' }), 1);
  assert.is(v('replica_up', { replica: '10.0.0.3' }), 0);
  assert.is(v('replica_up', { replica: '10.0.0.4' }), 0);
  assert.is(v('replica_silent_seconds', { replica: '10.0.0.3' }), 12.5);
  assert.is(v('replica_silent_seconds', { replica: '10.0.0.4' }), undefined, 'never heard: no sample');
  // A later scrape reads the sources again, not a copy.
  stats.received = 41;
  silent = 2;
  f = await scrape(m);
  assert.is(sampleValue(f, 'diskless_dhcp_packets_received_total'), 41);
  assert.is(sampleValue(f, 'diskless_replica_up', { replica: '10.0.0.3' }), 1);
});

test('two services in one process keep their own numbers', async () => {
  const [a, b] = [new ServiceMetrics(), new ServiceMetrics()];
  a.observe({ kind: 'dhcp', mac: '52:54:00:77:00:01', type: 'ack' });
  const [fa, fb] = [await scrape(a), await scrape(b)];
  assert.is(sampleValue(fa, 'diskless_dhcp_requests_total', { outcome: 'ack' }), 1);
  assert.is(sampleValue(fb, 'diskless_dhcp_requests_total', { outcome: 'ack' }), 0);
  assert.match((await a.render()).contentType, /^text\/plain; version=0\.0\.4/);
});

test.run();
