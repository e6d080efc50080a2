// Which parser reads a root image tool's output, by format (a registry, like
// ROOT_FORMATS): each turns one output line into the progress it shows, if any.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootFormat } from '../../rootfs/formats.js';
import type { Progress } from './progress.js';
import { describeErofs, describeMksquashfs, erofsProcessing, mksquashfsFrame } from './squashfs.js';

export type LineMeter = (line: string) => Progress | undefined;

/** Entries under `dir` (not itself), symlinks not followed: what mkfs.erofs says it processes. */
export async function countEntries(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    n++;
    if (e.isDirectory()) n += await countEntries(join(dir, e.name));
  }
  return n;
}

export const ROOT_IMAGE_PROGRESS: Record<RootFormat, (root: string) => Promise<LineMeter>> = {
  squashfs: async () => (line) => {
    const f = mksquashfsFrame(line);
    return f && describeMksquashfs(f);
  },
  erofs: async (root) => {
    const entries = await countEntries(root);
    let done = 0;
    return (line) => (erofsProcessing(line) === undefined ? undefined : describeErofs(++done, entries));
  },
};
