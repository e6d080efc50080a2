// LogLimiter with a manual clock: once per key per window, a cap per window, and a
// new window once the previous one has run out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LogLimiter } from '../../../pxe/dhcp/log-limiter.js';

const T0 = 1_800_000_000_000; // epoch ms, as the server's clock gives

test('once per key per window; the window is counted from its first line', () => {
  const l = new LogLimiter(60_000, 10);
  assert.is(l.allow('a', T0 + 1000), true);
  assert.is(l.allow('a', T0 + 1001), false, 'the same key again');
  assert.is(l.allow('b', T0 + 30_000), true, 'another key');
  assert.is(l.allow('a', T0 + 61_000), false, 'exactly one window after the first line: still the same window');
  assert.is(l.allow('a', T0 + 61_001), true, 'past the window: a new one, the key may be logged again');
  assert.is(l.allow('b', T0 + 61_002), true, 'the new window forgot b too');
});

test('at most maxPerWindow lines per window overall', () => {
  const l = new LogLimiter(60_000, 3);
  const said = ['a', 'b', 'c', 'd', 'e'].filter((k) => l.allow(k, T0 + 5000));
  assert.equal(said, ['a', 'b', 'c']);
  assert.is(l.allow('d', T0 + 64_999), false);
  assert.is(l.allow('d', T0 + 65_001), true);
});

test.run();
