// The listening socket's limits with a manual clock: the ERROR reply budget per second
// of the clock, and the per-client request rate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Admitter, ReplyBudget } from '../../../pxe/tftp/limits.js';
import { ManualClock } from './helpers.js';

test('ReplyBudget: at most perSec replies in each whole second of the clock, a fresh budget the next second', () => {
  const clock = new ManualClock();
  clock.t = 5000;
  const b = new ReplyBudget(3);
  assert.equal([1, 2, 3, 4, 5].map(() => b.take(clock.now())), [true, true, true, false, false]);
  clock.t = 5999;
  assert.is(b.take(clock.now()), false, 'one ms before the next second: still spent');
  clock.t = 6000;
  assert.is(b.take(clock.now()), true, 'the next second: a fresh budget');
  assert.is(b.take(clock.now()), true);
  assert.is(b.take(clock.now()), true);
  assert.is(b.take(clock.now()), false);
});

test('Admitter: a client\'s burst, then requests at the refill rate; slots come back on release', () => {
  const a = new Admitter({ maxTransfers: 100, maxPerClient: 100, ratePerSec: 10, burst: 2 });
  assert.ok(a.admit('10.0.0.9', 1000).ok);
  assert.ok(a.admit('10.0.0.9', 1000).ok);
  assert.not.ok(a.admit('10.0.0.9', 1000).ok, 'burst spent');
  assert.not.ok(a.admit('10.0.0.9', 1099).ok, 'one token takes 100 ms to refill');
  assert.ok(a.admit('10.0.0.9', 1199).ok, 'refilled (the refused try at 1099 counts toward it too)');
  assert.ok(a.admit('10.0.0.8', 1199).ok, 'another client has its own bucket');
  assert.is(a.activeTransfers, 4);
  a.release('10.0.0.9');
  assert.is(a.activeTransfers, 3);
});

test.run();
