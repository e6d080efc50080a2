// Two (or three) replicas share one dynamic pool by the rendezvous rule: no address
// is ever offered or leased by two of them; when one dies, the survivors take over its
// share and only its share.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide, type PolicyConfig } from '../../pxe/dhcp/policy.js';
import { LeaseTable } from '../../pxe/dhcp/leases.js';
import { Opt } from '../../pxe/dhcp/constants.js';
import { getU8 } from '../../pxe/dhcp/options.js';
import { parseInventory } from '../../cluster/inventory.js';
import { formatIp4, parseIp4 } from '../../cluster/addr.js';
import { firstResponder, heldRefs, holdersOf, liveReplicas, ownerOf } from '../../pxe/replica/pool.js';
import { request, T } from './dhcp/helpers.js';

const REPLICAS = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
const inv = parseInventory(
  `cluster: split
network:
  subnet: 10.77.0.0/24
  pool: { start: 10.77.0.100, end: 10.77.0.219 }
servers: [${REPLICAS.join(', ')}]
defaults: { image: debian }
`,
  'cluster.yaml',
);
const NOW = 1_800_000_000_000;
const mac = (i: number) => `52:54:00:aa:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const ipBuf = (s: string) => Buffer.from(s.split('.').map(Number));

function replica(self: string, live: () => string[]) {
  const cfg: PolicyConfig = { serverIp: self, httpPort: 80, owns: (n) => ownerOf(n, live()) === self };
  const leases = new LeaseTable();
  /** A full DORA for `m`: the address this replica leased, or undefined if it made no offer. */
  const dora = (m: string): string | undefined => {
    const offer = decide({ msg: request({ type: T.DISCOVER, mac: m }), from: { address: '0.0.0.0', port: 68 }, localPort: 67 }, inv, leases, NOW, cfg);
    if (!offer.reply) return undefined;
    const ack = decide(
      { msg: request({ type: T.REQUEST, mac: m, options: [[Opt.SERVER_ID, ipBuf(self)], [Opt.REQUESTED_IP, ipBuf(offer.reply.yiaddr)]] }), from: { address: '0.0.0.0', port: 68 }, localPort: 67 },
      inv, leases, NOW, cfg,
    );
    assert.is(getU8(ack.reply!.options, Opt.MESSAGE_TYPE), T.ACK);
    return ack.reply!.yiaddr;
  };
  return { self, cfg, leases, dora };
}

test('the owner rule: every pool address has exactly one owner, shares are about even, and only a dead replica\'s share moves', () => {
  const counts = new Map<string, number>();
  const moved = { fromDead: 0, other: 0 };
  for (let n = parseIp4('10.77.0.100')!; n <= parseIp4('10.77.0.219')!; n++) {
    const o = ownerOf(n, REPLICAS)!;
    counts.set(o, (counts.get(o) ?? 0) + 1);
    const after = ownerOf(n, REPLICAS.filter((r) => r !== '10.77.0.3'))!;
    if (after !== o) o === '10.77.0.3' ? moved.fromDead++ : moved.other++;
  }
  for (const r of REPLICAS) assert.ok((counts.get(r) ?? 0) > 20, `${r} owns ${counts.get(r)} of 120`);
  assert.is(moved.other, 0, 'addresses of live replicas never move');
  assert.is(moved.fromDead, counts.get('10.77.0.3'));
});

test('first responders: every reserved MAC has exactly one, shares are about even, and only a dead replica\'s nodes move', () => {
  const counts = new Map<string, number>();
  let movedOther = 0;
  for (let i = 0; i < 600; i++) {
    const mac = `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const r = firstResponder(mac, REPLICAS)!;
    assert.ok(REPLICAS.includes(r));
    counts.set(r, (counts.get(r) ?? 0) + 1);
    const after = firstResponder(mac, ['10.77.0.1', '10.77.0.2'])!;
    if (r !== '10.77.0.3' && after !== r) movedOther++;
  }
  for (const r of REPLICAS) assert.ok((counts.get(r) ?? 0) > 150, `${r} answers ${counts.get(r)} of 600 first`);
  assert.is(movedOther, 0, 'nodes of live replicas keep their first responder');
});

test('boot scripts list the live replicas that hold the image: a peer still pulling it is left out, one not heard from yet is not', () => {
  const held = new Map([
    ['10.77.0.2', heldRefs([{ name: 'debian', version: 'v2', current: true }])],
    ['10.77.0.3', heldRefs([{ name: 'debian', version: 'v1', current: true }])],
  ]);
  assert.equal(holdersOf('debian/v2', '10.77.0.1', REPLICAS, held), ['10.77.0.1', '10.77.0.2']);
  assert.equal(holdersOf('debian/v1', '10.77.0.1', REPLICAS, held), ['10.77.0.1', '10.77.0.3']);
  assert.equal(holdersOf('debian/v2', '10.77.0.1', REPLICAS, new Map()), REPLICAS, 'no /status yet: listed');
  assert.equal(holdersOf('debian/v2', '10.77.0.1', ['10.77.0.1', '10.77.0.3'], held), ['10.77.0.1'], 'dead ones stay out');
  assert.equal([...heldRefs([{ name: 'a', version: '1', current: false }, { name: 'a', version: '2', current: true }])].sort(), ['a', 'a/1', 'a/2']);
});

test('liveness: a replica is dropped only after deadAfter without an answer', () => {
  const seen = new Map([['10.77.0.2', NOW - 10_000]]);
  assert.equal(liveReplicas('10.77.0.1', REPLICAS, seen, NOW - 5_000, NOW, 30_000), REPLICAS, 'not yet heard from 10.77.0.3: still live');
  assert.equal(liveReplicas('10.77.0.1', REPLICAS, seen, NOW - 60_000, NOW, 30_000), ['10.77.0.1', '10.77.0.2']);
});

test('three replicas answering the same 100 clients never lease one address twice', () => {
  const all = () => REPLICAS;
  const rs = REPLICAS.map((r) => replica(r, all));
  const leasedBy = new Map<string, string>();
  for (let i = 0; i < 100; i++) {
    // Every replica sees every broadcast DISCOVER; the client takes the first offer, which may come from any of them.
    for (const r of rs) {
      const got = r.dora(mac(i));
      if (!got) continue;
      const prev = leasedBy.get(got);
      assert.ok(prev === undefined || prev === `${r.self} ${mac(i)}` || prev.endsWith(mac(i)), `${got} leased by ${prev} and ${r.self}`);
      assert.is(ownerOf(parseIp4(got)!, REPLICAS), r.self, `${r.self} only leases its own share`);
      leasedBy.set(got, `${r.self} ${mac(i)}`);
    }
  }
  // No address is held by two replicas' lease tables for different clients.
  const holders = new Map<string, string>();
  for (const r of rs) {
    for (const l of r.leases.all()) {
      const other = holders.get(l.ip);
      assert.ok(!other || other === l.mac, `${l.ip} held for ${other} and ${l.mac}`);
      holders.set(l.ip, l.mac);
    }
  }
});

test('when a replica dies its share is taken over; an INIT-REBOOT into another live replica\'s share gets silence, not a NAK', () => {
  let live = REPLICAS;
  const a = replica('10.77.0.1', () => live);
  const owned3 = [];
  for (let n = parseIp4('10.77.0.100')!; n <= parseIp4('10.77.0.219')!; n++) if (ownerOf(n, REPLICAS) === '10.77.0.3') owned3.push(formatIp4(n));
  // While 10.77.0.3 lives, a client re-booting into one of its addresses is its business.
  const reboot = decide(
    { msg: request({ type: T.REQUEST, mac: mac(500), options: [[Opt.REQUESTED_IP, ipBuf(owned3[0]!)]] }), from: { address: '0.0.0.0', port: 68 }, localPort: 67 },
    inv, a.leases, NOW, a.cfg,
  );
  assert.is(reboot.reply, null);
  // It dies: 10.77.0.1 and .2 split its addresses; .1 now leases some of them.
  live = ['10.77.0.1', '10.77.0.2'];
  const got = new Set<string>();
  for (let i = 600; i < 720; i++) {
    const ip = a.dora(mac(i));
    if (ip) got.add(ip);
  }
  assert.ok(owned3.some((ip) => got.has(ip)), 'the survivor leases addresses of the dead replica');
  for (const ip of got) assert.is(ownerOf(parseIp4(ip)!, live), '10.77.0.1');
});

test.run();
