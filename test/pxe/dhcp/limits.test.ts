// The rate limits alone, on an injected clock: token buckets, the per-MAC and
// per-source checks, the new-address budget, and bounded memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_LIMITS, RateLimits, sourceKey, TokenBuckets } from '../../../pxe/dhcp/limits.js';

const T0 = 1_700_000_000_000;

test('a bucket allows its burst at once, then refills at its rate, never above the burst', () => {
  const b = new TokenBuckets({ burst: 3, perSecond: 2 });
  assert.equal([1, 2, 3, 4].map(() => b.take('k', T0)), [true, true, true, false]);
  assert.is(b.take('k', T0 + 400), false, '0.8 tokens after 400 ms');
  assert.is(b.take('k', T0 + 500), true, '1 token after 500 ms');
  assert.equal([1, 2, 3, 4].map(() => b.take('k', T0 + 60_000)), [true, true, true, false], 'a minute idle refills to the burst only');
  assert.is(b.take('other', T0), true, 'keys are apart');
});

test('a clock going backwards adds nothing', () => {
  const b = new TokenBuckets({ burst: 1, perSecond: 1 });
  assert.ok(b.take('k', T0));
  assert.not.ok(b.take('k', T0 - 10_000));
});

test('memory is bounded: past the cap, full buckets go first, then the oldest half', () => {
  const b = new TokenBuckets({ burst: 2, perSecond: 1 }, 100);
  for (let i = 0; i < 1000; i++) b.take(`m${i}`, T0);
  assert.ok(b.size <= 100, `size ${b.size}`);
  // After a pause every bucket is full again: one sweep empties the map but for the new key.
  for (let i = 0; i < 100; i++) b.take(`n${i}`, T0 + 1);
  b.take('late', T0 + 10_000);
  assert.is(b.size, 1);
});

test('per-source limit holds clients with no record, not the ones the server knows', () => {
  const l = new RateLimits({ perSource: { burst: 5, perSecond: 1 }, perMac: { burst: 100, perSecond: 100 } });
  const unknown = Array.from({ length: 10 }, (_, i) => l.admit(`02:00:00:00:00:${i}`, '0.0.0.0', false, T0));
  assert.equal(unknown.filter((x) => x === undefined).length, 5);
  assert.equal(unknown.filter((x) => x === 'source').length, 5);
  assert.is(l.admit('52:54:00:00:00:01', '0.0.0.0', true, T0), undefined, 'a known client on the same source');
  assert.is(l.admit('02:00:00:00:01:00', 'relay 10.88.0.1', false, T0), undefined, 'another source has its own budget');
  assert.is(l.admit('02:00:00:00:01:01', '0.0.0.0', false, T0 + 1000), undefined, 'refilled after a second');
});

test('per-MAC limit holds any one client, known or not', () => {
  const l = new RateLimits({ perMac: { burst: 3, perSecond: 1 } });
  const r = Array.from({ length: 5 }, () => l.admit('52:54:00:00:00:01', '0.0.0.0', true, T0));
  assert.equal(r, [undefined, undefined, undefined, 'mac', 'mac']);
  assert.is(l.admit('52:54:00:00:00:02', '0.0.0.0', true, T0), undefined);
});

test('new-address budget per source', () => {
  const l = new RateLimits({ newAddresses: { burst: 2, perSecond: 0.5 } });
  assert.equal([l.newAddress('0.0.0.0', T0), l.newAddress('0.0.0.0', T0), l.newAddress('0.0.0.0', T0)], [true, true, false]);
  assert.ok(l.newAddress('relay 10.88.0.1', T0));
  assert.not.ok(l.newAddress('0.0.0.0', T0 + 1999));
  assert.ok(l.newAddress('0.0.0.0', T0 + 2000));
});

test('defaults: a 500-node boot storm of reserved nodes is never limited; a PXE boot (6 packets) per MAC passes', () => {
  const l = new RateLimits();
  let refused = 0;
  for (let round = 0; round < 6; round++) for (let i = 0; i < 500; i++) if (l.admit(`52:54:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`, '10.77.0.100', true, T0 + round * 100)) refused++;
  assert.is(refused, 0);
  assert.ok(DEFAULT_LIMITS.newAddresses.burst < 64, 'a flood gets only a small share of a typical pool at once');
});

test('source key: the relay (giaddr) for relayed requests, else the source address', () => {
  assert.is(sourceKey('10.88.0.1', '10.77.0.9'), 'relay 10.88.0.1');
  assert.is(sourceKey('0.0.0.0', '0.0.0.0'), '0.0.0.0');
  assert.is(sourceKey('0.0.0.0', '10.77.0.105'), '10.77.0.105');
});

test.run();
