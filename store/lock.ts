// One writer per image at a time: a build and a replica pull both hold
// <image>/.lock (lib/pidlock: the holder's pid and start time) while they add a
// version or move `current`. A lock whose process is gone is taken over.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tryLockFile } from '../lib/pidlock.js';
import { LOCK_FILE } from './layout.js';

/** Take the per-image lock, replacing a stale one; returns a release function. */
export async function lockImage(imageDir: string): Promise<() => Promise<void>> {
  await mkdir(imageDir, { recursive: true });
  const got = await tryLockFile(join(imageDir, LOCK_FILE), 'build or pull');
  if ('pid' in got) throw new Error(`another build of ${imageDir} is running (pid ${got.pid}); wait for it or stop it`);
  return () => got.release();
}

const turns = new Map<string, Promise<unknown>>();

/** Run `fn` after every earlier `fn` for `key` in this process: the image lock is one per process too. */
export function inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const next = (turns.get(key) ?? Promise.resolve()).catch(() => {}).then(fn);
  turns.set(key, next);
  void next.finally(() => turns.get(key) === next && turns.delete(key)).catch(() => {});
  return next;
}
