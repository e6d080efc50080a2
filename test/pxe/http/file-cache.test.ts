// FileCache on real files: what it holds, what it lets go, and a replaced file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCache } from '../../../pxe/http/file-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'file-cache-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number, fill: number): string {
  const p = join(dir, name);
  writeFileSync(p, Buffer.alloc(size, fill));
  return p;
}

/** get() until the background load has landed. */
async function held(c: FileCache, p: string): Promise<Buffer> {
  for (let i = 0; i < 500; i++) {
    const b = c.get(p, statSync(p));
    if (b) return b;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${p} never held`);
}

test('a file is held after its first get; the least recently used goes when the budget is full', async () => {
  const c = new FileCache(250);
  const [a, b, d] = [file('a', 100, 1), file('b', 100, 2), file('d', 100, 3)];
  assert.is(c.get(a, statSync(a)), undefined, 'the first get starts a load');
  assert.equal(await held(c, a), Buffer.alloc(100, 1));
  await held(c, b);
  await held(c, a); // a is now the most recent
  await held(c, d); // over budget: b goes
  assert.is(c.size(), 200);
  assert.ok(c.get(a, statSync(a)));
  assert.is(c.get(b, statSync(b)), undefined);
});

test('a file larger than the budget is never held; a replaced file is a new entry', async () => {
  const c = new FileCache(150);
  const big = file('big', 200, 4);
  c.get(big, statSync(big));
  await new Promise((r) => setTimeout(r, 100));
  assert.is(c.get(big, statSync(big)), undefined);
  assert.is(c.size(), 0);
  const p = file('r', 100, 5);
  await held(c, p);
  writeFileSync(`${p}.new`, Buffer.alloc(100, 6));
  renameSync(`${p}.new`, p);
  assert.equal(await held(c, p), Buffer.alloc(100, 6));
});

test.run();
