// Heartbeat rounds with a fake /status and a manual clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Membership } from '../../../pxe/replica/membership.js';
import { beat, beatIntervalMs, startHeartbeats, type PeerAnswer } from '../../../pxe/replica/heartbeat.js';

const T0 = 1_800_000_000_000;

test('a round asks every peer by host:port, records each answer by address at its arrival time, with what it holds', async () => {
  const m = new Membership({ self: '10.0.0.1', startedAt: T0, deadAfterMs: 9000 });
  let t = T0;
  const asked: string[] = [];
  const answers: Record<string, PeerAnswer | undefined> = {
    '10.0.0.2:8080': { images: [{ name: 'debian', version: 'v1', current: true }] },
    '10.0.0.3:8080': undefined,
    '10.0.0.4:8080': {}, // an old peer without images in /status: live, holdings unknown
  };
  await beat(Object.keys(answers), m, () => t, async (peer) => {
    asked.push(peer);
    t += 100;
    return answers[peer];
  });
  assert.equal(asked.sort(), Object.keys(answers));
  const all = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
  // The never-answering one counts from start; the others from their answers (T0 + 300 at the latest).
  assert.equal(m.live(all, T0 + 9000), ['10.0.0.1', '10.0.0.2', '10.0.0.4']);
  assert.equal(m.live(all, T0 + 9100 + 200), ['10.0.0.1']);
  assert.equal(m.holdersOf('debian/v1', all, T0 + 300), ['10.0.0.1', '10.0.0.2', '10.0.0.4'], 'a holder, and a peer whose holdings are unknown, are listed; one never heard from is not');
  assert.equal(m.holdersOf('debian/v2', all, T0 + 300), ['10.0.0.1', '10.0.0.4'], 'a peer known not to hold it is left out');
});

test('the interval: a third of --dead-after, at most 10 s', () => {
  assert.is(beatIntervalMs(4000), 4000 / 3);
  assert.is(beatIntervalMs(90_000), 10_000);
});

test('a peer that has not answered yet (it may be starting too) is asked again soon, not only at the next interval', async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const m = new Membership({ self: '10.0.0.1', startedAt: Date.now(), deadAfterMs: 90_000 }); // rounds every 10 s
  let asks = 0;
  const hb = startHeartbeats({ peers: () => ['10.0.0.2:8080'], membership: m, now: Date.now, eagerMs: 5, ask: async () => (++asks < 3 ? undefined : { images: [] }) });
  try {
    for (let i = 0; i < 500 && m.heardFrom(['10.0.0.2'], Date.now()).length === 0; i++) await sleep(10);
    assert.equal(m.heardFrom(['10.0.0.1', '10.0.0.2'], Date.now()), ['10.0.0.1', '10.0.0.2'], `heard after ${asks} asks`);
    const heardAfter = asks;
    await sleep(100);
    assert.is(asks, heardAfter, 'heard: back to one round per interval');
  } finally {
    hb.stop();
  }
});

test.run();
