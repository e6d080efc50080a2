// A build's root over a cached root without copying it: an overlayfs mount whose
// lower layer is the cache (never written) and whose upper and work folders live in
// the build's staging folder, so every write, and every removal (a whiteout), lands
// there. Where overlayfs cannot be mounted the cache is copied, as before.
// The mount sits inside the staging folder, so removeTree(staging) detaches it on
// success, failure and SIGINT/SIGTERM; after a SIGKILL the next build's sweep does.
import { chmod, chown, lstat, mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import type { Logger } from '../lib/log.js';

/** The mount(8) argv, or why there is none: overlayfs options split on ',' and ':' (and '\' escapes). */
export function overlayMountArgv(lower: string, upper: string, work: string, merged: string): string[] | string {
  const odd = [lower, upper, work].find((p) => /[,:\\]/.test(p));
  if (odd) return `the path ${odd} has a character overlayfs options cannot carry (',', ':' or '\\')`;
  return ['mount', '-t', 'overlay', 'diskless-root', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged];
}

export type RootFrom = { how: 'overlay' } | { how: 'copy'; why: string };

/** Make `root` (an empty folder) show `cachedRoot`: an overlay with its upper layer in `layers`, else a copy. */
export async function rootFromCache(
  cachedRoot: string,
  root: string,
  layers: string,
  o: { log?: Logger; signal?: AbortSignal } = {},
): Promise<RootFrom> {
  const upper = join(layers, 'upper');
  const work = join(layers, 'work');
  const argv = overlayMountArgv(cachedRoot, upper, work, root);
  let why = typeof argv === 'string' ? argv : '';
  if (typeof argv !== 'string') {
    await mkdir(upper, { recursive: true });
    await mkdir(work, { recursive: true });
    // The merged root directory shows the upper one's owner, mode and times: make them the cache's.
    const st = await lstat(cachedRoot);
    await chown(upper, st.uid, st.gid);
    await chmod(upper, st.mode & 0o7777);
    await utimes(upper, st.atime, st.mtime);
    try {
      await run(argv, { log: o.log, signal: o.signal });
      return { how: 'overlay' };
    } catch (err) {
      why = (err as Error).message.split('\n').slice(0, 3).join(' ');
    }
  }
  await run(['cp', '-a', '--reflink=auto', `${cachedRoot}/.`, root], { log: o.log, signal: o.signal });
  return { how: 'copy', why };
}
