// Map a requested filename to an open file inside the root, or say why not.
// The check is made on the file actually opened, so a symlink swapped in after
// the path check still cannot lead outside.
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ERR_ACCESS, ERR_NOT_FOUND } from './packet.js';

export class PathRefused extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'PathRefused';
  }
}

/**
 * The name as the server sees it: one leading '/' is dropped (PXE firmware often
 * sends "/pxelinux.0"); '..' anywhere is refused, with '\' counted as a separator
 * as Windows-style clients mean it.
 */
export function cleanName(filename: string): string {
  const name = filename.replace(/^\/+/, '');
  if (name === '' || name.split(/[\\/]/).includes('..')) throw new PathRefused(`refused path '${filename}'`, ERR_ACCESS);
  return name;
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

export interface OpenedFile {
  fh: FileHandle;
  size: number;
  path: string;
}

/** `realRoot` must already be a realpath. */
export async function openInRoot(realRoot: string, name: string): Promise<OpenedFile> {
  let real: string;
  try {
    real = await realpath(resolve(realRoot, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new PathRefused(`no access to '${name}'`, ERR_ACCESS);
    throw new PathRefused(`'${name}' not found`, ERR_NOT_FOUND);
  }
  if (!inside(realRoot, real)) throw new PathRefused(`'${name}' leads outside the root`, ERR_ACCESS);
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PathRefused(`'${name}' not found`, ERR_NOT_FOUND);
    throw new PathRefused(`cannot open '${name}': ${code ?? String(err)}`, ERR_ACCESS);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new PathRefused(`'${name}' is not a regular file`, ERR_ACCESS);
    // What was opened, by the kernel's account (Linux): must still be inside the root.
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => real);
    if (!inside(realRoot, opened)) throw new PathRefused(`'${name}' leads outside the root`, ERR_ACCESS);
    return { fh, size: st.size, path: opened };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/**
 * A file resolved once at start (its real path; pxe/http/ipxe-files.ts): opened as
 * that path, never through a link swapped in since (O_NOFOLLOW), and only a regular file.
 */
export async function openResolved(name: string, real: string): Promise<OpenedFile> {
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PathRefused(`'${name}' not found (${real}, found at start, is gone)`, ERR_NOT_FOUND);
    throw new PathRefused(`cannot open '${name}' (${real}): ${code ?? String(err)}`, ERR_ACCESS);
  }
  const st = await fh.stat().catch(() => undefined);
  if (!st?.isFile()) {
    await fh.close().catch(() => undefined);
    throw new PathRefused(`'${name}' (${real}) is not a regular file`, ERR_ACCESS);
  }
  return { fh, size: st.size, path: real };
}
