// `diskless status` rendering (pure): plain text has no escape codes, and the coloured
// text says exactly the same once they are stripped; failing nodes come first, in red,
// with their message; a replica silent past --dead-after is dead in text and JSON.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderStatus, duration, nodeState, bytes } from '../../cli/status-table.js';
import { withDeadAfter } from '../../cli/status.js';
import { ClusterViewSchema, type ClusterView, type NodeView } from '../../pxe/status/schema.js';

const T = Date.parse('2026-12-01T12:00:00.000Z');
const iso = (ms: number) => new Date(T + ms).toISOString();
const base = { mac: '52:54:00:00:00:01', ip: '10.77.0.11', image: 'deb', failures: [] as NodeView['failures'], failed: false };
const nodes: NodeView[] = [
  { ...base, name: 'up1', phase: 'up', since: iso(-60_000), boot: { startedAt: iso(-69_000), upAt: iso(-60_000), ms: 9000, phases: [] }, lastBoot: { startedAt: iso(-69_000), upAt: iso(-60_000), ms: 9000, phases: [] } },
  { ...base, name: 'never', phase: 'unknown' },
  { ...base, name: 'bad', phase: 'kernel', since: iso(-5000), failed: true, boot: { startedAt: iso(-7000), ms: 7000, phases: [] }, failures: [{ kind: 'sha256', at: iso(-1000), message: 'sha256 mismatch for http://10.77.0.1/images/deb/2/root.squashfs: refused' }] },
  { ...base, name: 'slow', phase: 'root', since: iso(-1500), boot: { startedAt: iso(-4000), ms: 4000, phases: [] } },
];
const view: ClusterView = ClusterViewSchema.parse({
  cluster: 'trio',
  replica: '10.77.0.1',
  generatedAt: iso(0),
  deadAfterSeconds: 90,
  inventory: { version: 3, hash: 'abc' },
  nodes,
  replicas: [
    { address: '10.77.0.1', self: true, live: true, lastHeartbeat: iso(0), inventoryVersion: 3, images: ['deb/2'], poolShare: 0.5, nodeShare: 0.5 },
    { address: '10.77.0.2', self: false, live: true, lastHeartbeat: iso(-2000), inventoryVersion: 3, images: ['deb/2'], poolShare: 0.5, nodeShare: 0.5 },
    { address: '10.77.0.3', self: false, live: true, lastHeartbeat: iso(-30_000), inventoryVersion: 2, images: [], poolShare: 0, nodeShare: 0 },
  ],
  images: [{ name: 'deb', version: '2', current: true, size: 300 * 1024 * 1024, replicas: ['10.77.0.1', '10.77.0.2'], nodes: 4 }],
  vcs: [{ name: 'lab', state: 'ready', vms: [{ name: 'lab-1', host: 'h1', state: 'running' }] }],
});
// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

test('plain text has no escape codes; coloured text is the same text with them', () => {
  const plain = renderStatus(view, T, { color: false });
  const tty = renderStatus(view, T, { color: true });
  assert.not.match(plain, /\x1b/);
  assert.match(tty, /\x1b\[31m/);
  assert.is(strip(tty), plain);
});

test('nodes: failing first with the message, then booting, not seen, up; phases named as a person reads them', () => {
  const plain = renderStatus(view, T, { color: false });
  const lines = plain.split('\n');
  const at = (name: string) => lines.findIndex((l) => l.startsWith(`${name} `));
  assert.ok(at('bad') < at('slow') && at('slow') < at('never') && at('never') < at('up1'), plain);
  assert.match(lines[at('bad')]!, /kernel\+initrd \(failing\)\s+5\.0 s\s+7\.0 s\s+-\s+sha256: sha256 mismatch for http:\/\/10\.77\.0\.1\/images\/deb\/2\/root\.squashfs: refused$/);
  assert.match(lines[at('slow')]!, /root image\s+1\.5 s\s+4\.0 s/);
  assert.match(lines[at('up1')]!, /up\s+1 min 0 s\s+-\s+9\.0 s/);
  assert.match(lines[at('never')]!, /no boot seen/);
  assert.match(plain, /NODES {2}4: 1 up, 1 booting, 1 failing, 1 not seen/);
  const red = renderStatus(view, T, { color: true }).split('\n').find((l) => strip(l).startsWith('bad '))!;
  assert.match(red, /\x1b\[31mkernel\+initrd \(failing\)\x1b\[0m/);
});

test('replicas: live as counted, dead once silent past --dead-after; the JSON says the same', () => {
  const row = (text: string, addr: string) => text.split('\n').find((l) => l.startsWith(addr))!;
  const deflt = renderStatus(view, T, { color: false });
  assert.match(row(deflt, '10.77.0.3'), /^10\.77\.0\.3\s+live\s+30\.0 s ago\s+v2\s+0\s+0%\s+0%$/);
  assert.match(row(deflt, '10.77.0.1'), /^10\.77\.0\.1 \(this\)\s+live\s+now\s+v3\s+1\s+50%\s+50%$/);
  const strict = renderStatus(view, T, { color: false, deadAfterSeconds: 10 });
  assert.match(row(strict, '10.77.0.3'), /^10\.77\.0\.3\s+dead/);
  assert.match(row(strict, '10.77.0.2'), /^10\.77\.0\.2\s+live/);
  assert.match(strict, /replicas dead after 10 s/);
  assert.equal(withDeadAfter(view, 10).replicas.map((r) => r.live), [true, true, false]);
  assert.is(withDeadAfter(view, undefined), view);
  const counted = { ...view, replicas: view.replicas.map((r) => (r.address === '10.77.0.2' ? { ...r, live: false } : r)) };
  assert.match(row(renderStatus(counted, T, { color: false }), '10.77.0.2'), /dead/, 'dead when the replica counts it dead');
});

test('images and virtual clusters', () => {
  const plain = renderStatus(view, T, { color: false });
  assert.match(plain, /\ndeb\s+2\s+current\s+300\.0 MiB\s+4\s+10\.77\.0\.1, 10\.77\.0\.2\n/);
  assert.match(plain, /\nlab\s+ready\s+lab-1\s+h1\s+running\n/);
  assert.not.match(renderStatus({ ...view, vcs: undefined }, T, { color: false }), /VIRTUAL CLUSTERS/);
});

test('a long node list is cut for a terminal, saying how many more', () => {
  const plain = renderStatus(view, T, { color: false, maxNodes: 2 });
  assert.match(plain, /… 2 more/);
  assert.not.match(plain, /\nup1 /);
});

test('units', () => {
  assert.equal([950, 12_345, 245_000, 7_380_000].map(duration), ['950 ms', '12.3 s', '4 min 5 s', '2 h 3 min']);
  assert.equal([undefined, 512, 1536, 3 * 1024 ** 3].map(bytes), ['-', '512 B', '1.5 KiB', '3.0 GiB']);
  assert.equal(nodes.map(nodeState), ['up', 'unknown', 'failing', 'booting']);
});

test.run();
