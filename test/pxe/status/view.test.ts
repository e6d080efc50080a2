// The whole cluster view from given facts (pure): replicas live or dead with their last
// heartbeat, inventory version, images and share of the work; images with holders,
// sizes and `current`; the result valid against the published schema.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseInventory } from '../../../cluster/inventory.js';
import { clusterView, shares, SHARE_SAMPLE, type ClusterFacts } from '../../../pxe/status/view.js';
import { ClusterViewSchema, clusterJsonSchema } from '../../../pxe/status/schema.js';
import { PeerStatuses } from '../../../pxe/status/peer-status.js';

const inv = parseInventory(
  `cluster: trio
network:
  subnet: 10.77.0.0/24
  pool: { start: 10.77.0.100, end: 10.77.0.199 }
servers: [10.77.0.1, 10.77.0.2, 10.77.0.3]
defaults: { image: deb }
nodes:
${Array.from({ length: 30 }, (_, i) => `  - { name: n${i}, mac: "52:54:00:77:01:${i.toString(16).padStart(2, '0')}", ip: 10.77.0.${20 + i} }`).join('\n')}
  - { name: pinned, mac: "52:54:00:77:02:01", ip: 10.77.0.90, image: deb/1 }
`,
  'cluster.yaml',
);
const T = Date.parse('2026-12-01T12:00:00Z');

function facts(over: Partial<ClusterFacts> = {}): ClusterFacts {
  return {
    inventory: inv,
    self: '10.77.0.1',
    now: T,
    deadAfterMs: 4000,
    live: ['10.77.0.1', '10.77.0.2'],
    nodes: [],
    heldHere: [{ name: 'deb', version: '1', current: false }, { name: 'deb', version: '2', current: true }],
    peers: new Map([
      ['10.77.0.2', { at: T - 1000, status: { inventory: { version: 3 }, images: [{ name: 'deb', version: '2', current: true }, { name: 'other', version: '7', current: true }] } }],
      ['10.77.0.3', { at: T - 9000, status: { inventory: { version: 2 }, images: [{ name: 'deb', version: '1', current: true }] } }],
    ]),
    imageInfo: new Map([['deb/2', { size: 1234, builtAt: '2026-12-01T00:00:00Z' }]]),
    ...over,
  };
}

test('replicas: live or dead as the membership counts them, last heartbeat, inventory version, images, shares of the live ones', () => {
  const v = ClusterViewSchema.parse(clusterView(facts()));
  assert.equal(
    v.replicas.map((r) => [r.address, r.self, r.live, r.lastHeartbeat, r.inventoryVersion, r.images]),
    [
      ['10.77.0.1', true, true, new Date(T).toISOString(), inv.version, ['deb/1', 'deb/2']],
      ['10.77.0.2', false, true, new Date(T - 1000).toISOString(), 3, ['deb/2', 'other/7']],
      ['10.77.0.3', false, false, new Date(T - 9000).toISOString(), 2, ['deb/1']],
    ],
  );
  const [a, b, c] = v.replicas;
  assert.is(c!.poolShare + c!.nodeShare, 0, 'a dead replica has no share');
  assert.ok(Math.abs(a!.poolShare + b!.poolShare - 1) < 1e-9);
  assert.ok(Math.abs(a!.nodeShare + b!.nodeShare - 1) < 1e-9);
  assert.ok(a!.poolShare > 0.2 && b!.poolShare > 0.2, `both live replicas own part of the pool: ${a!.poolShare}, ${b!.poolShare}`);
});

test('images: every version any replica holds, with its holders; current as this replica has it, else as a peer says', () => {
  const v = clusterView(facts());
  assert.equal(
    v.images.map((i) => [i.name, i.version, i.current, i.size, i.replicas, i.nodes]),
    [
      ['deb', '1', false, undefined, ['10.77.0.1', '10.77.0.3'], 1],
      ['deb', '2', true, 1234, ['10.77.0.1', '10.77.0.2'], 30],
      ['other', '7', true, undefined, ['10.77.0.2'], 0],
    ],
  );
});

test('a replica not in the inventory still shows itself; a peer never heard has no heartbeat', () => {
  const v = clusterView(facts({ self: '10.77.0.9', peers: new Map(), live: ['10.77.0.9'] }));
  assert.equal(v.replicas.map((r) => [r.address, r.live, r.lastHeartbeat === undefined]), [
    ['10.77.0.9', true, false],
    ['10.77.0.1', false, true],
    ['10.77.0.2', false, true],
    ['10.77.0.3', false, true],
  ]);
});

test('a big pool is sampled, not walked', () => {
  const big = { networks: [{ pool: { start: 0x0a000000, end: 0x0a0fffff } }], nodes: [] } as unknown as Parameters<typeof shares>[0];
  const s = shares(big, ['a', 'b', 'c']);
  const total = [...s.values()].reduce((t, x) => t + x.pool, 0);
  assert.ok(Math.abs(total - 1) < 1e-9);
  for (const x of s.values()) assert.ok(Math.abs(x.pool - 1 / 3) < 0.05, `${x.pool} of a 1M-address pool, ${SHARE_SAMPLE} weighed`);
});

test('peers: an answer that is not a /status is not kept for the view (not trusted field by field), and the heartbeats hear it as before', async () => {
  let t = T;
  const ps = new PeerStatuses(() => t);
  const answers: Record<string, unknown> = {
    '10.77.0.2:8080': { images: [{ name: 'deb', version: '2', current: true }], inventory: { version: 3 } },
    '10.77.0.3': { images: 'all of them' },
    '10.77.0.4': { images: [{ name: 'deb', version: 2, current: 'yes' }] },
  };
  const ask = ps.asking(async (p) => answers[p] as never);
  assert.ok(await ask('10.77.0.2:8080'));
  t += 5;
  assert.equal(await ask('10.77.0.3'), answers['10.77.0.3'], 'the heartbeats still hear it');
  assert.ok(await ask('10.77.0.4'));
  assert.equal([...ps.all().keys()], ['10.77.0.2']);
  assert.is(ps.all().get('10.77.0.2')!.at, T);
});

test('the JSON schema is published', () => {
  const s = clusterJsonSchema() as { type: string; properties: Record<string, unknown>; required: string[] };
  assert.is(s.type, 'object');
  for (const k of ['nodes', 'replicas', 'images']) assert.ok(s.properties[k] && s.required.includes(k), k);
});

test.run();
