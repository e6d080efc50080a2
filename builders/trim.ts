// What the trim step removes from the root: docs, man pages, locales (but C, C.UTF-8 and
// the template's), apt's package lists and /boot's copy of the shipped kernel. The
// choice is pure (trimTargets); measuring and removing is below it.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot } from '../rootfs/paths.js';
import type { TrimData } from './weight.js';
import type { ModuleInfo } from './modules.js';

export const TRIM_KINDS = ['docs', 'man', 'locales', 'aptLists', 'bootKernel', 'modules'] as const;
export type TrimKind = (typeof TRIM_KINDS)[number];

/** The kinds that empty folders; bootKernel and modules are the step's (they need the kernel facts). */
export type FolderKind = Exclude<TrimKind, 'bootKernel' | 'modules'>;

/** Folders whose entries a kind empties (the folders themselves stay, for packages installed later). */
const FOLDERS: Record<FolderKind, string[]> = {
  docs: ['/usr/share/doc', '/usr/share/info'],
  man: ['/usr/share/man'],
  locales: ['/usr/share/locale', '/usr/lib/locale'],
  aptLists: ['/var/lib/apt/lists'],
};

/** apt's own lock and download folder stay in lists/. */
const APT_KEEP = new Set(['lock', 'partial']);

function parseLocale(name: string): { lang: string; territory?: string } | undefined {
  const m = /^([a-z]{2,3})(?:_([A-Za-z0-9]+))?(?:[.@][^/]*)?$/.exec(name);
  return m ? { lang: m[1]!.toLowerCase(), territory: m[2]?.toUpperCase() } : undefined;
}

/**
 * Whether a locale folder stays: C and POSIX always; otherwise when a kept name has its
 * language and, if both name a territory, the same one (keeping de_DE keeps de, the
 * translations gettext falls back to, and de_DE.UTF-8; not de_AT).
 */
export function localeKept(name: string, keep: readonly string[]): boolean {
  if (/^(C|POSIX)([.@].*)?$/i.test(name)) return true;
  const n = parseLocale(name);
  if (!n) return true; // not a locale folder: leave it
  return keep.some((k) => {
    const p = parseLocale(k);
    return p !== undefined && p.lang === n.lang && (!p.territory || !n.territory || p.territory === n.territory);
  });
}

/** Whether an entry of one of the kind's folders goes. `isDir`: locales only remove folders (and locale-archive). */
export function trimmed(kind: FolderKind, entry: string, isDir: boolean, t: Pick<TrimData, 'keepLocales'>): boolean {
  if (kind === 'aptLists') return !APT_KEEP.has(entry);
  if (kind !== 'locales') return true;
  // locale-archive holds every compiled locale but C.utf8 (a folder of its own): it goes when none is kept.
  if (entry === 'locale-archive') return t.keepLocales.length === 0;
  return isDir && !localeKept(entry, t.keepLocales);
}

export interface Freed {
  files: number;
  bytes: number;
}

/** Files (and links) and bytes below a host path, which is not followed if it is a link. */
export async function measure(path: string): Promise<Freed> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return { files: 0, bytes: 0 };
  if (!st.isDirectory()) return { files: 1, bytes: st.isFile() ? st.size : 0 };
  const out = { files: 0, bytes: 0 };
  for (const e of await readdir(path)) {
    const m = await measure(join(path, e));
    out.files += m.files;
    out.bytes += m.bytes;
  }
  return out;
}

/** Measure and remove host paths; returns what was freed. */
export async function removeAll(paths: string[]): Promise<Freed> {
  const out = { files: 0, bytes: 0 };
  for (const p of paths) {
    const m = await measure(p);
    out.files += m.files;
    out.bytes += m.bytes;
    await rm(p, { recursive: true, force: true });
  }
  return out;
}

/** Host paths of what one folder kind removes from `root`. */
export async function trimTargets(root: string, kind: FolderKind, t: Pick<TrimData, 'keepLocales'>): Promise<string[]> {
  const out: string[] = [];
  for (const folder of FOLDERS[kind]) {
    const dir = await resolveInRoot(root, folder);
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (trimmed(kind, e.name, e.isDirectory(), t)) out.push(join(dir, e.name));
    }
  }
  return out.sort();
}

/**
 * The modules to leave out: those below the `folders` (paths relative to
 * /lib/modules/<kver>/, as in modules.dep) and every module that needs one of them,
 * which could no longer load.
 */
export function modulesToDrop(dep: ReadonlyMap<string, ModuleInfo>, folders: readonly string[]): ModuleInfo[] {
  const under = (p: string) => folders.some((f) => p.startsWith(`${f.replace(/\/+$/, '')}/`));
  const drop = new Set([...dep.values()].filter((m) => under(m.path)).map((m) => m.name));
  for (let grew = drop.size > 0; grew; ) {
    grew = false;
    for (const m of dep.values()) {
      if (!drop.has(m.name) && m.deps.some((d) => drop.has(d))) grew = Boolean(drop.add(m.name));
    }
  }
  return [...dep.values()].filter((m) => drop.has(m.name)).sort((a, b) => (a.path < b.path ? -1 : 1));
}
