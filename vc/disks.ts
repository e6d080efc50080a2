// Scratch disks for VC nodes: a qcow2 overlay over an empty, already formatted ext4
// base, so making one costs the same whatever its size. The base is made once per
// size and never changes afterwards (overlays point at it by path).
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { run } from '../lib/run.js';
import type { Logger } from '../lib/log.js';

export const SCRATCH_LABEL = 'scratch';

export interface DiskOptions {
  log?: Logger;
}

export function baseName(sizeBytes: number): string {
  return `ext4-${sizeBytes}.qcow2`;
}

/**
 * The formatted base of `sizeBytes` in `dir`, made when missing: mkfs.ext4 on a sparse raw
 * file (no mount), converted to qcow2. Published with link(), so two makers never swap one
 * base for another under an overlay: the loser drops its copy and uses the winner's.
 */
export async function scratchBase(dir: string, sizeBytes: number, o: DiskOptions = {}): Promise<string> {
  if (!Number.isInteger(sizeBytes) || sizeBytes < 16 * 1024 * 1024 || sizeBytes % 1024 !== 0) {
    throw new Error(`scratch disk size must be a whole number of KiB, at least 16 MiB (got ${sizeBytes} bytes)`);
  }
  const base = join(dir, baseName(sizeBytes));
  if (existsSync(base)) return base;
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.base-'));
  try {
    const raw = join(tmp, 'base.raw');
    const qcow = join(tmp, 'base.qcow2');
    await run(['qemu-img', 'create', '-q', '-f', 'raw', raw, String(sizeBytes)], o);
    await run(['mkfs.ext4', '-F', '-q', '-L', SCRATCH_LABEL, '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', raw], o);
    await run(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow], o);
    try {
      await link(qcow, base);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return base;
}

/** A VM's scratch disk: a qcow2 overlay whose backing file is `base` (an absolute path). */
export async function createScratch(base: string, path: string, o: DiskOptions = {}): Promise<void> {
  if (!isAbsolute(base)) throw new Error(`scratch base '${base}' must be an absolute path (qemu resolves it from the overlay's folder otherwise)`);
  await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', path], o);
}

/** Remove a VM's scratch disk; one that is not there is not an error. The base stays. */
export async function removeScratch(path: string): Promise<void> {
  await rm(path, { force: true });
}
