// Replica membership with a manual clock: a silent peer's share is taken over exactly
// at --dead-after (not one ms before), and given back when it answers again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Membership } from '../../../pxe/replica/membership.js';
import { beat, type PeerAnswer } from '../../../pxe/replica/heartbeat.js';
import { firstResponder, heldRefs, ownerOf } from '../../../pxe/replica/pool.js';
import { parseIp4 } from '../../../cluster/addr.js';
import { replicaOrder } from '../../../pxe/bootscript.js';

const SELF = '10.77.0.1';
const B = '10.77.0.2';
const C = '10.77.0.3';
const ALL = [SELF, B, C];
const T0 = 1_800_000_000_000;
const DEAD = 90_000; // --dead-after 90
const POOL: number[] = [];
for (let n = parseIp4('10.77.0.100')!; n <= parseIp4('10.77.0.219')!; n++) POOL.push(n);
const MACS = Array.from({ length: 300 }, (_, i) => `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`);

class ManualClock {
  constructor(public t: number) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** The pool addresses and first answers this replica takes at time `now`. */
const share = (m: Membership, now: number) => ({
  pool: POOL.filter((n) => m.owns(n, ALL, now)),
  first: MACS.filter((mac) => m.answersFirst(mac, ALL, now)),
});
const ownShare = { pool: POOL.filter((n) => ownerOf(n, ALL) === SELF), first: MACS.filter((mac) => firstResponder(mac, ALL) === SELF) };
const withoutC = { pool: POOL.filter((n) => ownerOf(n, [SELF, B]) === SELF), first: MACS.filter((mac) => firstResponder(mac, [SELF, B]) === SELF) };

test('the shares: C owns part of the pool and of the first answers, and without C this replica takes more', () => {
  assert.ok(POOL.some((n) => ownerOf(n, ALL) === C) && MACS.some((mac) => firstResponder(mac, ALL) === C));
  assert.ok(withoutC.pool.length > ownShare.pool.length && withoutC.first.length > ownShare.first.length);
  for (const n of ownShare.pool) assert.ok(withoutC.pool.includes(n), 'this replica keeps what it had');
});

test('a peer never heard from counts as live until exactly deadAfter after start', () => {
  const m = new Membership({ self: SELF, startedAt: T0, deadAfterMs: DEAD });
  assert.equal(m.live(ALL, T0), ALL);
  assert.equal(m.live(ALL, T0 + DEAD - 1), ALL, 'one ms before: still live');
  assert.equal(m.live(ALL, T0 + DEAD), [SELF], 'at deadAfter: dead');
  assert.equal(m.live([SELF], T0 + 10 * DEAD), [SELF], 'this replica is always live');
});

test('takeover happens exactly at --dead-after after the last answer, not one ms before; a peer that answers again is taken back', () => {
  const m = new Membership({ self: SELF, startedAt: T0, deadAfterMs: DEAD });
  const clock = new ManualClock(T0);
  // Heartbeats every 10 s: B always answers, C answers until t = T0 + 30 s and then falls silent.
  const lastFromC = T0 + 30_000;
  for (; clock.t <= lastFromC; clock.advance(10_000)) {
    m.heard(B, clock.t);
    m.heard(C, clock.t);
  }
  for (; clock.t < lastFromC + DEAD; clock.advance(10_000)) m.heard(B, clock.t);

  assert.equal(share(m, lastFromC + DEAD - 1), ownShare, 'one ms before --dead-after: C keeps its share');
  assert.equal(m.live(ALL, lastFromC + DEAD - 1), ALL);
  assert.equal(share(m, lastFromC + DEAD), withoutC, 'at --dead-after: C\'s share is taken over');
  assert.equal(m.live(ALL, lastFromC + DEAD), [SELF, B]);

  const back = lastFromC + DEAD + 25_000;
  assert.equal(share(m, back), withoutC);
  m.heard(C, back);
  assert.equal(share(m, back), ownShare, 'C answered again: its share goes back to it at once');
  assert.equal(share(m, back + DEAD - 1), { pool: POOL.filter((n) => ownerOf(n, [SELF, C]) === SELF), first: MACS.filter((mac) => firstResponder(mac, [SELF, C]) === SELF) }, 'and B, silent since, is the one now taken over');
});

test('driven by heartbeat rounds: a peer is heard when its answer arrives, dropped deadAfter later, taken back when it answers', async () => {
  const m = new Membership({ self: SELF, startedAt: T0, deadAfterMs: DEAD });
  const clock = new ManualClock(T0);
  const up = new Set([B, C]);
  const ask = async (peer: string): Promise<PeerAnswer | undefined> => {
    clock.advance(7); // the answer takes 7 ms to arrive
    return up.has(peer.split(':')[0]!) ? { images: [] } : undefined;
  };
  const peers = [`${B}:8080`, `${C}:8080`];
  await beat(peers, m, clock.now, ask);
  const heardAt = clock.t;
  up.delete(C);
  for (clock.t = heardAt + 10_000; clock.t < heardAt + DEAD + 30_000; clock.t += 10_000) await beat(peers, m, clock.now, ask);
  assert.equal(share(m, heardAt - 1 + DEAD), ownShare);
  assert.equal(share(m, heardAt + DEAD), withoutC);
  up.add(C);
  await beat(peers, m, clock.now, ask);
  assert.equal(share(m, clock.t), ownShare);
});

test('what peers hold: boot scripts list a live holder and drop it at --dead-after; without the image this replica answers only once no live peer has it', () => {
  const m = new Membership({ self: SELF, startedAt: T0, deadAfterMs: DEAD });
  m.holding(heldRefs([{ name: 'debian', version: 'v1', current: true }]));
  m.heard(B, T0, heldRefs([{ name: 'debian', version: 'v1', current: true }]));
  m.heard(C, T0, heldRefs([{ name: 'debian', version: 'v2', current: true }, { name: 'alma', version: 'a1', current: true }]));
  assert.equal(m.holdersOf('debian/v1', ALL, T0 + 1), [SELF, B]);
  assert.equal(m.holdersOf('debian/v2', ALL, T0 + 1), [SELF, C]);
  assert.is(m.canBoot('debian', ALL, T0 + 1), true, 'held here');
  assert.is(m.canBoot('alma', ALL, T0 + 1), false, 'C holds it and is live: C answers');
  assert.is(m.canBoot('alma', ALL, T0 + DEAD - 1), false);
  assert.is(m.canBoot('alma', ALL, T0 + DEAD), true, 'C is dead: this replica answers');
  assert.equal(m.holdersOf('debian/v2', ALL, T0 + DEAD), [SELF]);
  m.heard(C, T0 + DEAD + 1);
  assert.is(m.canBoot('alma', ALL, T0 + DEAD + 1), false, 'C is back, and still holds alma by its last /status');
  assert.is(m.canBoot('rocky', ALL, T0 + 1), true, 'an image nobody holds');
});

test('boot scripts list only replicas heard from within --dead-after: self always, a peer never heard from never (even while it keeps its pool share)', () => {
  const clock = new ManualClock(T0);
  const m = new Membership({ self: SELF, startedAt: clock.now(), deadAfterMs: DEAD });
  const image = 'debian/v1';
  m.holding(heldRefs([{ name: 'debian', version: 'v1', current: true }]));
  assert.equal(m.holdersOf(image, ALL, clock.now()), [SELF], 'at start: nobody heard from yet');
  assert.equal(m.live(ALL, clock.now()), ALL, 'though B and C keep their pool shares until --dead-after');
  clock.advance(5_000);
  m.heard(B, clock.now(), heldRefs([{ name: 'debian', version: 'v1', current: true }]));
  for (const t of [clock.now(), T0 + DEAD - 1, T0 + DEAD, clock.now() + DEAD - 1]) {
    assert.equal(m.holdersOf(image, ALL, t), [SELF, B], `at +${t - T0} ms: B heard, C never`);
  }
  assert.equal(m.heardFrom(ALL, clock.now() + DEAD), [SELF], 'B silent for --dead-after: dropped');
  // Whatever the MAC's order, a never-heard replica is not among the ones a node is sent to.
  for (const mac of MACS.slice(0, 50)) assert.not.ok(replicaOrder(mac, m.holdersOf(image, ALL, clock.now())).includes(C), mac);
  assert.equal(m.holdersOf(image, [B, C], clock.now()), [B], 'this replica counts only when it is among the servers');
});

test.run();
