// One writer per image at a time: a build and a replica pull both hold
// <image>/.lock (the holder's pid) while they add a version or move `current`.
// A lock whose process is gone is taken over.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../lib/pid.js';
import { LOCK_FILE } from './layout.js';

/** Take the per-image lock, replacing a stale one; returns a release function. */
export async function lockImage(imageDir: string): Promise<() => Promise<void>> {
  await mkdir(imageDir, { recursive: true });
  const lock = join(imageDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await rm(lock, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (isAlive(pid)) throw new Error(`another build of ${imageDir} is running (pid ${pid}); wait for it or stop it`);
      await rm(lock, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${lock}`);
}
