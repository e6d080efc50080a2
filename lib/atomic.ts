// Crash-safe writes: a reader, or the next start after a crash or power loss, sees
// the old content or the new, never a mix, a truncated file or an empty one. The
// new content goes to a temp file in the target's folder, is fsynced, renamed over
// the target, and the folder is fsynced so the rename itself is on disk.
// A writer killed midway leaves its temp file (.<name>.<pid>.<random>.tmp); the
// next write to the same target removes those whose process is gone.
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isAlive } from './pid.js';

/** fsync a file (or folder) by name; a folder's fsync makes renames inside it durable. */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** rename(2), then fsync the folders on both ends so the new name survives a power loss. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncPath(dirname(to));
  if (dirname(from) !== dirname(to)) await fsyncPath(dirname(from));
}

/** Temp files this process is writing now; one naming our pid but not listed is a dead writer's. */
const inFlight = new Set<string>();

/** A fresh temp name beside `file`, counted as in use until tempDone(). */
export function tempFor(file: string): string {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  inFlight.add(tmp);
  return tmp;
}

export function tempDone(tmp: string): void {
  inFlight.delete(tmp);
}

/** Temp files of earlier writes to `file` whose writer was killed (our own pid included: a restart can reuse it). */
export async function strayTemps(file: string): Promise<string[]> {
  const prefix = `.${basename(file)}.`;
  const out: string[] = [];
  for (const name of await readdir(dirname(file)).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    const path = join(dirname(file), name);
    if (pid === process.pid ? !inFlight.has(path) : !isAlive(pid)) out.push(path);
  }
  return out;
}

/** Replace `file` with `data` whole or not at all. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  for (const stray of await strayTemps(file)) await rm(stray, { force: true });
  const tmp = tempFor(file);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o666);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await renameDurable(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    tempDone(tmp);
  }
}

/** Point the symlink `link` at `target`, replacing it with rename(2): readers see the old or the new link, never none. */
export async function symlinkAtomic(target: string, link: string): Promise<void> {
  for (const stray of await strayTemps(link)) await rm(stray, { force: true });
  const tmp = tempFor(link);
  try {
    await symlink(target, tmp);
    await renameDurable(tmp, link);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    tempDone(tmp);
  }
}
