// A lock file that dies with its holder: it names the holder's pid and the process's
// start time (so a reused pid does not keep it alive), and is created whole with
// link(2), so it is never seen empty. A lock whose holder is gone is broken, by one
// breaker at a time (a `.break` lock beside it), so two waiters cannot both remove
// it and both take it. The one window left: a breaker SIGKILLed in the microseconds
// it holds `.break`; the next breaker then removes that without the same guard.
// A lock naming our own pid is held only if this process holds its token (lockHeld).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isAlive } from './pid.js';
import { strayTemps, tempDone, tempFor } from './atomic.js';

export interface Lock {
  /** Release it; safe to call twice. A holder that dies releases it too. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for a held lock before failing; default: wait forever. */
  timeoutMs?: number;
  /** Told once when the lock is held by someone else, e.g. to print "waiting for …". */
  onWait?: (holder: string) => void;
}

export interface LockHolder {
  pid: number;
  /** /proc/<pid>/stat start time, in clock ticks since boot; '' where unknown. */
  start: string;
  token: string;
  /** What the holder is doing, for "waiting for …" messages. */
  owner: string;
}

/** A process's start time from /proc/<pid>/stat (field 22), or '' if unreadable. */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

export function holderAlive(h: LockHolder | undefined): boolean {
  if (!h || !isAlive(h.pid)) return false;
  const start = processStart(h.pid);
  return !h.start || !start || start === h.start;
}

/** Tokens of the locks this process holds now. */
const heldTokens = new Set<string>();

/**
 * Whether a lock file's holder still holds it. One naming our own pid is ours only if
 * we hold its token: after a restart in a container (or a reboot) our pid, and even its
 * start time, can be the dead holder's.
 */
function lockHeld(h: LockHolder | undefined): boolean {
  if (h?.pid === process.pid) return heldTokens.has(h.token);
  return holderAlive(h);
}

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid}${h.owner ? ` (${h.owner})` : ''}`;
}

async function readHolder(file: string): Promise<LockHolder | undefined | 'none'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === 'number' && typeof h.token === 'string' ? h : undefined;
  } catch {
    return undefined; // not ours: treated as a dead holder's
  }
}

/** Create `file` holding `holder`, whole, unless it exists. */
async function createExclusive(file: string, holder: LockHolder): Promise<boolean> {
  for (const stray of await strayTemps(file)) await rm(stray, { force: true });
  const tmp = tempFor(file);
  try {
    await writeFile(tmp, JSON.stringify(holder) + '\n');
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
    tempDone(tmp);
  }
}

function newHolder(owner: string): LockHolder {
  return { pid: process.pid, start: processStart(process.pid), token: randomBytes(8).toString('hex'), owner };
}

/** Remove `file` if it still is the dead holder `stale`'s lock; one breaker at a time. */
async function breakStale(file: string, stale: LockHolder | undefined): Promise<void> {
  const guard = `${file}.break`;
  const me = newHolder('breaking a stale lock');
  heldTokens.add(me.token); // before the file exists, so no one in this process sees it unheld
  try {
    if (!(await createExclusive(guard, me))) {
      const g = await readHolder(guard);
      if (g !== 'none' && !lockHeld(g)) await rm(guard, { force: true });
      return;
    }
    try {
      const now = await readHolder(file);
      if (now !== 'none' && now?.token === stale?.token && !lockHeld(now)) await rm(file, { force: true });
    } finally {
      await rm(guard, { force: true });
    }
  } finally {
    heldTokens.delete(me.token);
  }
}

/** Take the lock if it is free (or its holder is gone); otherwise return its live holder. */
export async function tryLockFile(file: string, owner = ''): Promise<Lock | LockHolder> {
  await mkdir(dirname(file), { recursive: true });
  const me = newHolder(owner);
  heldTokens.add(me.token);
  try {
    for (;;) {
      if (await createExclusive(file, me)) return heldLock(file, me);
      const h = await readHolder(file);
      if (h === 'none') continue;
      if (h && lockHeld(h)) {
        heldTokens.delete(me.token);
        return h;
      }
      await breakStale(file, h);
      await sleep(1);
    }
  } catch (err) {
    heldTokens.delete(me.token);
    throw err;
  }
}

function heldLock(file: string, me: LockHolder): Lock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      const h = await readHolder(file);
      if (h !== 'none' && h?.token === me.token) await unlink(file).catch(() => {});
      heldTokens.delete(me.token);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for the lock and take it. */
export async function lockFile(file: string, opts: LockOptions & { owner?: string; name?: string } = {}): Promise<Lock> {
  const started = Date.now();
  let told = false;
  for (let attempt = 0; ; attempt++) {
    const got = await tryLockFile(file, opts.owner);
    if (!('pid' in got)) return got;
    if (!told) opts.onWait?.(describeHolder(got));
    told = true;
    if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) {
      throw new Error(`the lock ${opts.name ?? file} is held by ${describeHolder(got)}; gave up after ${opts.timeoutMs} ms (wait for it to finish, or stop it)`);
    }
    // Short polls first: most holders finish within milliseconds.
    await sleep(Math.min(100, 1 + attempt) * (0.5 + Math.random()));
  }
}
