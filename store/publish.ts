// Atomic publish: a build works in a hidden staging folder and appears under its
// version name only when every step passed; `current` is then swapped with
// rename(2), so readers see the old or the new version, never a mix. Staging left
// by a killed build is swept by the next one. The caller holds the image lock.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../rootfs/remove.js';
import { run } from '../lib/run.js';
import { isAlive } from '../lib/pid.js';
import { renameDurable, symlinkAtomic } from '../lib/atomic.js';
import { CURRENT, PRUNE_PREFIX, STAGING_PREFIX, currentVersion, listVersions } from './layout.js';
import { retentionDrops } from './retention.js';
import { versionCandidate } from './version.js';

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
  for (let n = 1; ; n++) {
    const version = versionCandidate(now, n);
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
  await renameDurable(artifactsDir, final);
  await pointCurrent(imageDir, version);
  return final;
}

/** Point `current` at `version` with rename(2): readers see the old or the new link, never none. */
export async function pointCurrent(imageDir: string, version: string): Promise<void> {
  await symlinkAtomic(version, join(imageDir, CURRENT));
}

/** Remove what the retention rule (store/retention.ts) drops: all but `current` and the newest `keep`. The caller holds the image lock. */
export async function pruneVersions(imageDir: string, keep: number): Promise<string[]> {
  const drops = retentionDrops({ versions: await listVersions(imageDir), current: await currentVersion(imageDir), keep });
  for (const v of drops) {
    // Out of sight first (hidden names are never served), then removed: a kill midway leaves no half version.
    const hidden = join(imageDir, `${PRUNE_PREFIX}${v}-${process.pid}`);
    await renameDurable(join(imageDir, v), hidden);
    await rm(hidden, { recursive: true, force: true });
  }
  return drops;
}
