// The image folder: <out>/<name>/<version>/ holds one complete build, and
// <out>/<name>/current points at the newest good one. A build works in a hidden
// staging folder and appears under its version name only when every step passed;
// `current` is then swapped with rename(2), so readers see the old or the new
// version, never a mix. Staging left by a killed build is swept by the next one.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../rootfs/remove.js';
import { run } from '../lib/run.js';

export const STAGING_PREFIX = '.build-';
export const LOCK_FILE = '.lock';
export const CURRENT = 'current';

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** UTC timestamp version, e.g. 20261123-141502. */
export function versionFor(now: Date): string {
  return now.toISOString().replace(/\..*$/, '').replace(/[-:]/g, '').replace('T', '-');
}

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

/** Remove staging folders of builds whose process is gone. */
export async function sweepStaging(imageDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(imageDir).catch(() => [] as string[])) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const dir = join(imageDir, name);
    let pid = 0;
    try {
      pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
    } catch {
      // no pid file: the build died before writing it
    }
    if (isAlive(pid) && pid !== process.pid) continue;
    await removeTree(dir);
    removed.push(dir);
  }
  return removed;
}

/** Pick an unused version name and make its staging folder. */
export async function createStaging(imageDir: string, now: Date): Promise<{ version: string; staging: string }> {
  const base = versionFor(now);
  for (let n = 1; ; n++) {
    const version = n === 1 ? base : `${base}.${n}`;
    const staging = join(imageDir, `${STAGING_PREFIX}${version}`);
    if (existsSync(join(imageDir, version)) || existsSync(staging)) continue;
    await mkdir(staging);
    await writeFile(join(staging, 'pid'), `${process.pid}\n`);
    return { version, staging };
  }
}

/** Move the finished artifacts into place and point `current` at them, atomically. */
export async function publish(imageDir: string, artifactsDir: string, version: string): Promise<string> {
  const final = join(imageDir, version);
  await run(['sync', '-f', artifactsDir]); // artifacts on disk before they are named
  await rename(artifactsDir, final);
  await pointCurrent(imageDir, version);
  return final;
}

/** Point `current` at `version` with rename(2): readers see the old or the new link, never none. */
export async function pointCurrent(imageDir: string, version: string): Promise<void> {
  const tmpLink = join(imageDir, `.${CURRENT}.${process.pid}`);
  await rm(tmpLink, { force: true });
  await symlink(version, tmpLink);
  await rename(tmpLink, join(imageDir, CURRENT));
}

/** Remove the oldest versions beyond `keep`, never the one `current` names. */
export async function pruneVersions(imageDir: string, keep: number): Promise<string[]> {
  if (!keep) return [];
  const current = await currentVersion(imageDir);
  const versions = (await readdir(imageDir)).filter((n) => /^\d{8}-\d{6}(\.\d+)?$/.test(n)).sort(compareVersions);
  const removed: string[] = [];
  for (const v of versions.slice(0, Math.max(0, versions.length - keep))) {
    if (v === current) continue;
    await rm(join(imageDir, v), { recursive: true, force: true });
    removed.push(v);
  }
  return removed;
}

function compareVersions(a: string, b: string): number {
  const [da, na] = a.split('.');
  const [db, nb] = b.split('.');
  return da! < db! ? -1 : da! > db! ? 1 : Number(na ?? 1) - Number(nb ?? 1);
}

export async function currentVersion(imageDir: string): Promise<string | undefined> {
  return readlink(join(imageDir, CURRENT)).catch(() => undefined);
}
