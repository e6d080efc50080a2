// Paths inside an image root. Everything the build writes into a root goes through
// here, so a symlink in the image (say /etc -> /host/etc) can never lead a write out
// of the root onto the build host.
import { lstat, mkdir, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

/** Split an image path into components, refusing '..' and empty names. */
export function imagePathParts(p: string): string[] {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw new UnsafePathError(`path '${p}' contains '..'`);
  return parts;
}

/**
 * Host path for image path `p` under `root`, checking that no existing parent
 * component is a symlink (the last component may be anything). Missing parents are
 * created as directories when `createParents` is set.
 */
export async function safeJoin(root: string, p: string, opts: { createParents?: boolean } = {}): Promise<string> {
  const parts = imagePathParts(p);
  let cur = root;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = join(cur, parts[i]!);
    const st = await lstat(cur).catch(() => undefined);
    if (!st) {
      if (!opts.createParents) return join(root, ...parts);
      await mkdir(cur, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw new UnsafePathError(`'/${parts.slice(0, i + 1).join('/')}' is a symlink in the image; refusing to write '${p}' through it`);
    } else if (!st.isDirectory()) {
      throw new UnsafePathError(`'/${parts.slice(0, i + 1).join('/')}' is not a directory; cannot place '${p}'`);
    }
  }
  return join(root, ...parts);
}

/**
 * Follow `p` inside the image the way the image itself would see it: absolute
 * symlinks are taken relative to `root`, and '..' never climbs above it.
 * Returns the host path of the final target.
 */
export async function resolveInRoot(root: string, p: string, maxLinks = 40): Promise<string> {
  let pending = imagePathPartsLoose(p);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > maxLinks) throw new UnsafePathError(`too many symlinks resolving '${p}' in the image`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending = [...imagePathPartsLoose(target), ...pending];
    } else {
      done.push(name);
    }
  }
  return join(root, ...done);
}

function imagePathPartsLoose(p: string): string[] {
  return p.split('/').filter((x) => x !== '' && x !== '.');
}

/**
 * Host paths of the entries matching an image path whose last component may hold
 * '*' and '?' (the directories before it are literal), sorted by name.
 */
export async function globInRoot(root: string, pattern: string): Promise<string[]> {
  const parts = imagePathParts(pattern);
  const last = parts.pop();
  if (!last) return [];
  const dir = await resolveInRoot(root, parts.join('/'));
  const re = new RegExp(`^${last.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}
