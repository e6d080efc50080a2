// How much memory the HTTP server may hold image artifacts in (file-cache.ts) when the
// admin does not say. A replica booted diskless keeps its images folder in RAM (tmpfs,
// ramfs): a second copy in the heap would double that memory and can end in an OOM
// kill, and the page cache already is memory there. Elsewhere the budget is bounded by
// a share of the machine's memory, so a small replica keeps room for the rest.
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';

const TMPFS_MAGIC = 0x01021994; // statfs f_type, linux/magic.h
const RAMFS_MAGIC = 0x858458f6; // statfs f_type, linux/magic.h
export const MAX_DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024;
const SHARE_OF_MEMORY = 8; // at most 1/8 of total memory by default

export interface CacheBudget {
  bytes: number;
  /** Why, for the log line at start. */
  reason: string;
}

/** The budget from the images folder's statfs type, total memory and the flag (bytes; undefined: not given). */
export function cacheBudget(fsType: number, totalBytes: number, flagBytes?: number): CacheBudget {
  const mib = (n: number) => `${Math.floor(n / 1024 / 1024)} MiB`;
  if (flagBytes !== undefined) return { bytes: flagBytes, reason: `${flagBytes ? mib(flagBytes) : 'off'} (--http-cache-mb)` };
  if (fsType === TMPFS_MAGIC || fsType === RAMFS_MAGIC) {
    return { bytes: 0, reason: `off: the images folder is in RAM (${fsType === TMPFS_MAGIC ? 'tmpfs' : 'ramfs'}), a second copy would double it (--http-cache-mb to override)` };
  }
  const bytes = Math.min(MAX_DEFAULT_CACHE_BYTES, Math.floor(totalBytes / SHARE_OF_MEMORY));
  return { bytes, reason: `${mib(bytes)}: min(1 GiB, 1/${SHARE_OF_MEMORY} of ${mib(totalBytes)} memory) (--http-cache-mb to override)` };
}

/** cacheBudget for `imagesDir` on this machine; a folder not made yet is judged by its nearest existing parent. */
export async function cacheBudgetFor(imagesDir: string, flagBytes?: number): Promise<CacheBudget> {
  if (flagBytes !== undefined) return cacheBudget(0, totalmem(), flagBytes);
  for (let dir = imagesDir; ; dir = dirname(dir)) {
    try {
      return cacheBudget((await statfs(dir)).type, totalmem());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw err;
    }
  }
}
