// Lock files and our own pid: a lock naming our pid that this process does not hold
// (left by an earlier process that had the same pid, as after a container restart) is
// stale; one this process holds is not; a live other process's lock is respected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStart, tryLockFile } from '../../lib/pidlock.js';
import { strayTemps, writeFileAtomic } from '../../lib/atomic.js';

const dir = () => mkdtempSync(join(tmpdir(), 'dl-pidlock-'));
const holder = (pid: number, token: string) => JSON.stringify({ pid, start: processStart(pid), token, owner: 'build or pull' }) + '\n';

test('a lock naming our own pid, start time and all, but not held by this process is taken over', async () => {
  const file = join(dir(), '.lock');
  writeFileSync(file, holder(process.pid, 'from-before-the-restart'));
  const got = await tryLockFile(file);
  assert.not.ok('pid' in got, 'taken over');
  assert.is.not(JSON.parse(readFileSync(file, 'utf8')).token, 'from-before-the-restart');
  await (got as { release(): Promise<void> }).release();
});

test('a lock this process holds is not broken by a second try in the same process', async () => {
  const file = join(dir(), '.lock');
  const first = await tryLockFile(file, 'first');
  assert.not.ok('pid' in first);
  const second = await tryLockFile(file, 'second');
  assert.ok('pid' in second, 'held');
  assert.is((second as { pid: number }).pid, process.pid);
  assert.is((second as { owner: string }).owner, 'first');
  await (first as { release(): Promise<void> }).release();
  const third = await tryLockFile(file, 'third');
  assert.not.ok('pid' in third, 'free once released');
  await (third as { release(): Promise<void> }).release();
});

test("a live other process's lock is respected", async () => {
  const file = join(dir(), '.lock');
  const child = spawn('sleep', ['30']);
  try {
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(file, holder(child.pid!, 'other'));
    const got = await tryLockFile(file);
    assert.ok('pid' in got);
    assert.is((got as { pid: number }).pid, child.pid);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a temp file naming our own pid that no write of ours is using is stray; one in use is not', async () => {
  const d = dir();
  const file = join(d, 'leases.json');
  writeFileSync(join(d, `.leases.json.${process.pid}.deadbeef.tmp`), 'half');
  assert.equal(await strayTemps(file), [join(d, `.leases.json.${process.pid}.deadbeef.tmp`)]);
  // Two writes at once in this process: neither removes the other's temp.
  await Promise.all([writeFileAtomic(file, 'a'.repeat(1 << 20)), writeFileAtomic(file, 'b'.repeat(1 << 20))]);
  assert.ok(['a', 'b'].includes(readFileSync(file, 'utf8')[0]!));
  assert.equal(readdirSync(d), ['leases.json']);
});

test.run();
