// The firmware closure: of everything in the image's /lib/firmware, keep only what the
// shipped kernel modules name (their .modinfo firmware= lines) and the template's keep
// globs, with every symlink on the way and the files the links point at. Pure: a
// listing of the firmware folder in, the plan out (builders/firmware-scan.ts does the I/O).

/** One entry of the firmware folder, by its path relative to the folder. Directories are implied. */
export type FirmwareEntry = { kind: 'file'; size: number } | { kind: 'link'; target: string };
export type FirmwareTree = ReadonlyMap<string, FirmwareEntry>;

/** The kernel loads `name`, else `name.zst` or `name.xz` (CONFIG_FW_LOADER_COMPRESS). */
export const COMPRESSED_SUFFIXES = ['.zst', '.xz'] as const;

/** Where an absolute link target inside the image may point at the firmware folder. */
const FIRMWARE_ROOTS = ['/lib/firmware/', '/usr/lib/firmware/'];
const MAX_LINKS = 40;

export const isGlob = (s: string): boolean => /[*?[]/.test(s);

/** Shell-style glob over a relative path: `*` and `?` stay within one name, `**` crosses folders. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/'; // `a/**/b` also matches `a/b`
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function normalize(parts: string[]): string[] | undefined {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!out.length) return undefined; // climbs out of the firmware folder
      out.pop();
    } else out.push(p);
  }
  return out;
}

/**
 * Follow `path` through the tree as the kernel's open() would: every symlink on the way
 * (a file link or a folder link) is followed. Returns the links passed and the file
 * reached, or undefined when it leads to no file inside the firmware folder.
 */
export function resolveFirmware(tree: FirmwareTree, path: string): string[] | undefined {
  let parts = normalize(path.split('/'));
  const via: string[] = [];
  for (let i = 0, hops = 0; parts && i < parts.length; ) {
    const prefix = parts.slice(0, i + 1).join('/');
    const e = tree.get(prefix);
    if (e?.kind !== 'link') {
      i++;
      continue;
    }
    if (++hops > MAX_LINKS) return undefined;
    via.push(prefix);
    const root = FIRMWARE_ROOTS.find((r) => e.target.startsWith(r));
    if (e.target.startsWith('/') && !root) return undefined; // points outside the firmware folder
    const base = root ? [] : parts.slice(0, i);
    parts = normalize([...base, ...(root ? e.target.slice(root.length) : e.target).split('/'), ...parts.slice(i + 1)]);
    i = 0;
  }
  const file = parts?.join('/');
  return file !== undefined && tree.get(file)?.kind === 'file' ? [...via, file] : undefined;
}

/** A name as the kernel would look it up: plain first, then compressed. */
function lookUp(tree: FirmwareTree, name: string): string[] | undefined {
  for (const candidate of [name, ...COMPRESSED_SUFFIXES.map((s) => name + s)]) {
    const hit = resolveFirmware(tree, candidate);
    if (hit) return hit;
  }
  return undefined;
}

const stripCompression = (p: string) => COMPRESSED_SUFFIXES.reduce((x, s) => (x.endsWith(s) ? x.slice(0, -s.length) : x), p);

/** The tree's paths a glob matches, with or without the compression suffix. */
function globMatches(tree: FirmwareTree, glob: string): string[] {
  const re = globRegExp(glob);
  return [...tree.keys()].filter((p) => re.test(p) || re.test(stripCompression(p)));
}

export interface FirmwarePlan {
  /** Paths to keep: files, and the links leading to them. */
  keep: string[];
  /** Paths to remove, with the bytes each frees (links free none). */
  drop: { path: string; size: number }[];
  /** Names modules ask for that the image does not have (normal: the firmware package lacks many). */
  missing: string[];
  /** Keep globs that matched nothing: likely a typo. */
  unusedKeep: string[];
}

/**
 * What the closure keeps of `tree`: the files the modules `named` (exact names or
 * globs), the files matching the template's `keep` globs, and every link on the way.
 */
export function firmwareClosure(tree: FirmwareTree, named: Iterable<string>, keepGlobs: readonly string[] = []): FirmwarePlan {
  const keep = new Set<string>();
  const missing: string[] = [];
  const take = (hit: string[] | undefined) => hit?.forEach((p) => keep.add(p));
  for (const name of new Set(named)) {
    if (isGlob(name)) {
      const hits = globMatches(tree, name);
      hits.forEach((p) => take(resolveFirmware(tree, p)));
      if (!hits.length) missing.push(name);
    } else {
      const hit = lookUp(tree, name);
      if (hit) take(hit);
      else missing.push(name);
    }
  }
  const unusedKeep: string[] = [];
  for (const glob of keepGlobs) {
    const hits = globMatches(tree, glob);
    hits.forEach((p) => take(resolveFirmware(tree, p)));
    if (!hits.length) unusedKeep.push(glob);
  }
  const drop = [...tree]
    .filter(([p]) => !keep.has(p))
    .map(([path, e]) => ({ path, size: e.kind === 'file' ? e.size : 0 }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { keep: [...keep].sort(), drop, missing: missing.sort(), unusedKeep };
}
