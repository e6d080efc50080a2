// What a kill leaves in the images folder, swept at start: a pull's .pull-* staging,
// a build's .build-* staging and the temp files of crash-safe writes (a half-made
// `current` link), and a prune's hidden .prune-* folder. Each image is swept under its
// lock, so a build or prune running in another process is never touched; an image whose
// lock a live process holds is skipped. A pull holds the lock only to rename its result
// in, so a .pull-*-<pid> is left alone while another live process has that pid; one
// naming our own pid is an orphan (we sweep before we pull, and a restart can reuse it).
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../rootfs/remove.js';
import { strayTemps } from '../lib/atomic.js';
import { tryLockFile } from '../lib/pidlock.js';
import { LOCK_FILE, PRUNE_PREFIX, PULL_PREFIX, listImages } from './layout.js';
import { isAlive } from '../lib/pid.js';
import { sweepStaging } from './publish.js';

export interface SweepReport {
  removed: string[];
  /** Images skipped because a live process holds their lock. */
  busy: string[];
}

/** Remove what killed pulls, builds and writes left under `root`. */
export async function sweepStore(root: string): Promise<SweepReport> {
  const report: SweepReport = { removed: [], busy: [] };
  for (const name of await listImages(root)) {
    const dir = join(root, name);
    const got = await tryLockFile(join(dir, LOCK_FILE), 'sweeping leftovers');
    if ('pid' in got) {
      report.busy.push(dir);
      continue;
    }
    try {
      report.removed.push(...(await sweepImage(dir)));
    } finally {
      await got.release();
    }
  }
  return report;
}

/** The leftovers in one image folder; the caller holds its lock. */
async function sweepImage(dir: string): Promise<string[]> {
  const removed: string[] = [];
  const names = await readdir(dir).catch(() => [] as string[]);
  const pullRunning = (n: string) => {
    const pid = Number(/-(\d+)$/.exec(n)?.[1]);
    return pid !== process.pid && isAlive(pid);
  };
  const orphans = names.filter((n) => (n.startsWith(PULL_PREFIX) && !pullRunning(n)) || n.startsWith(PRUNE_PREFIX));
  for (const n of orphans) {
    await removeTree(join(dir, n));
    removed.push(join(dir, n));
  }
  removed.push(...(await sweepStaging(dir)));
  // Temp files are named .<target>.<pid>.<random>.tmp; strayTemps judges their writers.
  const targets = new Set(names.map((n) => /^\.(.+)\.\d+\.[0-9a-f]+\.tmp$/.exec(n)?.[1]).filter((t): t is string => !!t));
  for (const t of targets) {
    for (const stray of await strayTemps(join(dir, t))) {
      await rm(stray, { force: true });
      removed.push(stray);
    }
  }
  return removed;
}
