// The embedded VC state store: compare-and-swap on revisions, listing by prefix,
// watches, and, with real child processes, the lock serializing two writers, a lock
// holder SIGKILLed, and a writer SIGKILLed in the middle of writing the document.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { FileStore, LOCKS_DIR, STATE_FILE, STATE_LOCK } from '../../vc/store/file.js';
import { processStart, tryLockFile } from '../../lib/pidlock.js';
import { RevisionConflict, update, type StateStore, type WatchEvent } from '../../vc/store/store.js';
import { bigValues } from '../helpers/vc-store-values.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dl-vcstore-'));
}

function worker(dir: string, ...args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'test/helpers/vc-store-worker.ts'), dir, ...args], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resolve when the child prints `word`; reject if it exits first. */
function printed(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes(word) && resolve());
    child.on('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before printing ${word}`)));
  });
}

function exited(child: ChildProcess): Promise<number | NodeJS.Signals | null> {
  return new Promise((r) => child.on('exit', (code, signal) => r(code ?? signal)));
}

async function conflict(p: Promise<unknown>): Promise<RevisionConflict> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RevisionConflict);
    return err as RevisionConflict;
  }
  throw new Error('the write was not refused');
}

test('CAS on revision: a stale put or delete is refused; revisions grow over the whole store', async () => {
  const dir = tempDir();
  try {
    const s = new FileStore({ dir });
    assert.is(await s.get('vc/a'), undefined);
    const r1 = await s.put('vc/a', { n: 1 }, 0);
    assert.is(r1, 1);
    const c0 = await conflict(s.put('vc/a', { n: 9 }, 0));
    assert.is(c0.message, 'vc/a already exists (revision 1)');
    const r2 = await s.put('vc/b', 'b', 0);
    const r3 = await s.put('vc/a', { n: 2 }, r1);
    assert.equal([r2, r3], [2, 3]);
    const stale = await conflict(s.put('vc/a', { n: 3 }, r1));
    assert.equal([stale.expected, stale.actual], [1, 3]);
    assert.match(stale.message, 'vc/a changed: expected revision 1, it is at 3');
    assert.equal(await s.get('vc/a'), { key: 'vc/a', value: { n: 2 }, revision: 3 });
    await conflict(s.delete('vc/a', r1));
    await s.delete('vc/a', r3);
    assert.is(await s.get('vc/a'), undefined);
    await s.delete('vc/a');
    assert.equal(await conflict(s.put('vc/a', 1, 3)).then((c) => c.actual), 0);
    // Unconditional writes still advance the revision.
    assert.is(await s.put('vc/b', 'b2'), 5);
    // A second store on the same folder (another command) sees the same state.
    assert.equal(await new FileStore({ dir }).get('vc/b'), { key: 'vc/b', value: 'b2', revision: 5 });
    assert.equal(readdirSync(dir), [STATE_FILE], 'one document, the document lock released');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('list by prefix: only keys under it, sorted', async () => {
  const dir = tempDir();
  try {
    const s = new FileStore({ dir });
    for (const k of ['vc/zeta', 'vc/alpha', 'vcx/other', 'host/a', 'vc/mid']) await s.put(k, k.toUpperCase());
    assert.equal((await s.list<string>('vc/')).map((e) => [e.key, e.value]), [
      ['vc/alpha', 'VC/ALPHA'],
      ['vc/mid', 'VC/MID'],
      ['vc/zeta', 'VC/ZETA'],
    ]);
    assert.equal((await s.list('nothing/')).length, 0);
    assert.is((await s.list('')).length, 5);
    assert.equal(await new FileStore({ dir: join(dir, 'empty') }).list('vc/'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('update(): read-modify-write retried on a conflict', async () => {
  const dir = tempDir();
  try {
    const s = new FileStore({ dir });
    await s.put('n', 1);
    let raced = false;
    // Another writer slips in between update()'s read and its first write.
    const racy: StateStore = {
      get: (k) => s.get(k),
      put: async (k, v, e) => {
        if (!raced) await s.put('n', 10);
        raced = true;
        return s.put(k, v, e);
      },
      delete: (k, e) => s.delete(k, e),
      list: (p) => s.list(p),
      lock: (n, o) => s.lock(n, o),
      watch: (p, f) => s.watch(p, f),
    };
    const seen: number[] = [];
    const got = await update<number>(racy, 'n', (cur) => {
      seen.push(cur!.value);
      return cur!.value + 1;
    });
    assert.equal(seen, [1, 10]);
    assert.equal(got, { key: 'n', value: 11, revision: 3 });
    assert.equal(await s.get('n'), got);
    assert.equal(await update<number>(s, 'n', () => undefined), got, 'undefined writes nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lock serializes two processes: 2 × 50 read-modify-writes, no update lost, no overlap', async () => {
  const dir = tempDir();
  const log = join(dir, 'sections.log');
  try {
    const kids = [worker(dir, 'incr', '50', log), worker(dir, 'incr', '50', log)];
    const codes = await Promise.all(kids.map(exited));
    assert.equal(codes, [0, 0]);
    assert.is((await new FileStore({ dir }).get<number>('counter'))?.value, 100);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.is(lines.length, 200);
    for (let i = 0; i < lines.length; i += 2) {
      const [inn, pid] = lines[i]!.split(' ');
      assert.equal([inn, lines[i + 1]], ['in', `out ${pid}`], `line ${i + 1}: a section overlapped another`);
    }
    assert.ok(new Set(lines.map((l) => l.split(' ')[1])).size === 2, 'both processes ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a holder SIGKILLed while holding the lock does not block the next command', async () => {
  const dir = tempDir();
  try {
    const holder = worker(dir, 'hold');
    await printed(holder, 'held');
    const s = new FileStore({ dir });
    let waitedFor = '';
    await s.lock('vc', { timeoutMs: 50, onWait: (h) => (waitedFor = h) }).then(
      () => assert.unreachable('the lock is held'),
      (err: Error) => assert.match(err.message, `the lock vc is held by pid ${holder.pid} (worker hold); gave up after 50 ms`),
    );
    assert.is(waitedFor, `pid ${holder.pid} (worker hold)`);
    const gone = exited(holder);
    holder.kill('SIGKILL');
    assert.is(await gone, 'SIGKILL');
    const t0 = Date.now();
    const lock = await s.lock('vc', { timeoutMs: 2000 });
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    // Held now by this process: another taker waits, and gets it once released.
    await s.lock('vc', { timeoutMs: 20 }).then(
      () => assert.unreachable('held by this process'),
      (err: Error) => assert.match(err.message, `pid ${process.pid}`),
    );
    await lock.release();
    await lock.release();
    await (await s.lock('vc', { timeoutMs: 100 })).release();
    assert.equal(readdirSync(join(dir, LOCKS_DIR)), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock whose pid now names another process (a reused pid) is taken over', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, LOCKS_DIR, 'vc.lock');
    mkdirSync(join(dir, LOCKS_DIR));
    assert.match(processStart(process.pid), /^\d+$/);
    // This process is alive, but it started at another time than the holder did.
    writeFileSync(file, JSON.stringify({ pid: process.pid, start: '1', token: 'old', owner: 'gone' }));
    const got = await tryLockFile(file);
    assert.not.ok('pid' in got, 'taken over');
    writeFileSync(file, 'not a lock file of ours');
    await (await new FileStore({ dir }).lock('other')).release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGKILL during a write leaves the old or the new document, whole; the next write goes through', async () => {
  const dir = tempDir();
  const [a, b] = bigValues();
  const seen = { a: 0, b: 0, inside: 0, locked: 0 };
  try {
    const s = new FileStore({ dir });
    await s.put('keep', 'me');
    await s.put('big', a);
    for (let round = 0; round < 12; round++) {
      const w = worker(dir, 'write');
      const gone = exited(w);
      await printed(w, 'writing');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      w.kill('SIGKILL');
      assert.is(await gone, 'SIGKILL');
      const big = await s.get<string[]>('big');
      const which = JSON.stringify(big?.value) === JSON.stringify(a) ? 'a' : JSON.stringify(big?.value) === JSON.stringify(b) ? 'b' : undefined;
      assert.ok(which, `round ${round}: the value is neither whole`);
      seen[which as 'a' | 'b']++;
      assert.equal((await s.get('keep'))?.value, 'me');
      if (readdirSync(dir).some((n) => n.endsWith('.tmp'))) seen.inside++;
      if (readdirSync(dir).includes(STATE_LOCK)) seen.locked++;
      // The killed writer may have held the document lock: the next write takes it over.
      const r = await s.put('big', a, big!.revision);
      assert.is(r, big!.revision + 1);
      assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'the next write removed the killed writer\'s temp file');
    }
    assert.ok(seen.b > 0, `no kill came after a write: ${JSON.stringify(seen)}`);
    // Kills landed inside writes, with the document lock held: the takeover was exercised.
    assert.ok(seen.inside > 0 && seen.locked > 0, JSON.stringify(seen));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch: puts and deletes under the prefix, in revision order, after the watch began', async () => {
  const dir = tempDir();
  try {
    const s = new FileStore({ dir, pollMs: 5 });
    await s.put('vc/old', 1);
    const events: WatchEvent<number>[] = [];
    const w = s.watch<number>('vc/', (e) => events.push(e));
    await s.put('vc/a', 2);
    await s.put('other', 3);
    await new Promise((r) => setTimeout(r, 40));
    await s.delete('vc/old');
    await new Promise((r) => setTimeout(r, 40));
    await s.put('vc/a', 4);
    const until = Date.now() + 2000;
    while (events.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    w.close();
    assert.equal(
      events.map((e) => (e.type === 'put' ? `put ${e.entry.key}=${e.entry.value}@${e.entry.revision}` : `delete ${e.key}@${e.revision}`)),
      ['put vc/a=2@2', 'delete vc/old@4', 'put vc/a=4@5'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
