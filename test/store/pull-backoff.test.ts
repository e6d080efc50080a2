// The retry rule for failed pulls, on an injected clock: 1 min, doubling to 1 h; a success clears it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BackingOff, PullBackoff, backoffKey } from '../../store/pull-backoff.js';

const MIN = 60_000;

test('a failed pull is held back 1, 2, 4 min ... at most 1 h; a success starts afresh', async () => {
  let now = 0;
  const b = new PullBackoff({ now: () => now });
  let calls = 0;
  const fail = () => b.run('k', async () => { calls++; throw new Error('bad copy'); });
  const tryAt = async (t: number) => { now = t; return fail().catch((e) => e as Error); };

  assert.match((await tryAt(0)).message, /bad copy/);
  assert.ok((await tryAt(MIN - 1)) instanceof BackingOff);
  assert.is(calls, 1);
  assert.match((await tryAt(MIN)).message, /bad copy/);
  assert.match((await tryAt(MIN + 1000)).message, /failed 2 times before; not asked again for 119 s/);
  assert.match((await tryAt(3 * MIN)).message, /bad copy/);
  assert.ok((await tryAt(7 * MIN - 1)) instanceof BackingOff);
  assert.is(calls, 3);
  // Doubling stops at one hour.
  for (let i = 0; i < 10; i++) { now += 3_600_000; await fail().catch(() => {}); }
  assert.ok((await tryAt(now + 3_600_000 - 1)) instanceof BackingOff);
  assert.match((await tryAt(now + 1)).message, /bad copy/);

  // A success forgets the failures.
  now += 3_600_000;
  assert.is(await b.run('k', async () => 'ok'), 'ok');
  assert.match((await fail().catch((e) => e as Error)).message, /bad copy/);
  assert.match((await tryAt(now + MIN - 1)).message, /failed 1 time before/);
});

test('the key is the peer, the version and its manifest: another peer or another manifest is asked at once', () => {
  const img = { name: 'debian', version: '20260101-000000', manifest: 'aa' };
  assert.is.not(backoffKey('10.0.0.1', img), backoffKey('10.0.0.2', img));
  assert.is.not(backoffKey('10.0.0.1', img), backoffKey('10.0.0.1', { ...img, manifest: 'bb' }));
});

test.run();
