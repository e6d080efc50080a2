// The default memory for artifacts held whole: a table over fs type, total memory and
// the flag, then the real statfs of a tmpfs folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheBudget, cacheBudgetFor } from '../../../pxe/http/cache-budget.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const EXT4 = 0xef53;
const TMPFS = 0x01021994;
const RAMFS = 0x858458f6;

const table: [string, number, number, number | undefined, number][] = [
  ['tmpfs: off', TMPFS, 64 * GiB, undefined, 0],
  ['ramfs: off', RAMFS, 64 * GiB, undefined, 0],
  ['disk, large machine: 1 GiB', EXT4, 64 * GiB, undefined, GiB],
  ['disk, 4 GiB machine: 1/8', EXT4, 4 * GiB, undefined, 512 * MiB],
  ['disk, exactly 8 GiB: 1 GiB', EXT4, 8 * GiB, undefined, GiB],
  ['flag wins on tmpfs', TMPFS, 4 * GiB, 256 * MiB, 256 * MiB],
  ['flag wins over the share of memory', EXT4, 4 * GiB, 2 * GiB, 2 * GiB],
  ['flag 0 turns it off on disk', EXT4, 64 * GiB, 0, 0],
];
for (const [name, fs, total, flag, want] of table) {
  test(name, () => {
    const b = cacheBudget(fs, total, flag);
    assert.is(b.bytes, want);
    assert.ok(b.reason.length > 0);
  });
}

test('the reason says why it is off in RAM and names the flag', () => {
  const b = cacheBudget(TMPFS, 4 * GiB);
  assert.match(b.reason, /tmpfs/);
  assert.match(b.reason, /--http-cache-mb/);
});

test('a real tmpfs folder (/dev/shm): off; a folder not made yet is judged by its parent', async () => {
  const dir = mkdtempSync('/dev/shm/cache-budget-');
  try {
    assert.is((await cacheBudgetFor(dir)).bytes, 0);
    assert.is((await cacheBudgetFor(join(dir, 'images/not/yet'))).bytes, 0);
    assert.is((await cacheBudgetFor(dir, 8 * MiB)).bytes, 8 * MiB);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
