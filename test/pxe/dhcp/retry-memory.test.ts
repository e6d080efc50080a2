// RetryMemory with a manual clock: a DISCOVER repeating the last xid within the
// memory time is a retry; a new xid, another client or an old entry is not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RetryMemory, RETRY_MEMORY_MS } from '../../../pxe/dhcp/retry-memory.js';

const A = '52:54:00:00:00:01';
const B = '52:54:00:00:00:02';

test('same xid again is a retry until the memory time runs out; a new xid starts over', () => {
  const m = new RetryMemory();
  let t = 1000;
  assert.is(m.isRetry(A, 7, t), false, 'first try');
  t += 4000;
  assert.is(m.isRetry(A, 7, t), true, 'same xid 4 s later');
  assert.is(m.isRetry(B, 7, t), false, 'another client with the same xid');
  assert.is(m.isRetry(A, 8, t), false, 'a new xid: a new first try');
  assert.is(m.isRetry(A, 8, t + RETRY_MEMORY_MS - 1), true, 'one ms before the memory time ends');
  // Each retry refreshes the entry, so measure from the last one.
  assert.is(m.isRetry(A, 8, t + 2 * RETRY_MEMORY_MS - 1), false, 'exactly the memory time after the last: forgotten');
});

test('bounded: past max clients, entries older than the memory time are swept', () => {
  const m = new RetryMemory(1000, 3);
  m.isRetry('old1', 1, 0);
  m.isRetry('old2', 1, 0);
  m.isRetry('new1', 1, 1500);
  assert.is(m.size, 3, 'at max nothing is swept');
  m.isRetry('new2', 1, 1600);
  assert.is(m.size, 2, 'the two older than 1000 ms went');
  assert.is(m.isRetry('new1', 1, 1700), true, 'a recent one is kept');
});

test.run();
