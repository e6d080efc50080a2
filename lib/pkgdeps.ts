// The installed packages a Node program needs at run time: its `dependencies` (and the
// optional ones that are installed), followed through node_modules the way Node resolves
// them, without devDependencies. Used to copy diskless itself into a live image.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPkg = (dir: string): PackageJson => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Where `name` resolves from package folder `from`, looking up to `top`'s node_modules. */
function resolveFrom(from: string, name: string, top: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === top || dirname(dir) === dir) return undefined;
  }
}

/** Folders (relative to `appRoot`) of every package `appRoot` needs at run time, sorted. */
export function runtimePackages(appRoot: string): string[] {
  const seen = new Set<string>();
  const queue: { dir: string; optional: boolean; name: string; by: string }[] = [];
  const enqueue = (dir: string, by: string) => {
    const pkg = readPkg(dir);
    for (const name of Object.keys(pkg.dependencies ?? {})) queue.push({ dir, name, optional: false, by });
    for (const name of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ dir, name, optional: true, by });
  };
  enqueue(appRoot, readPkg(appRoot).name ?? appRoot);
  while (queue.length) {
    const { dir, name, optional, by } = queue.shift()!;
    const found = resolveFrom(dir, name, appRoot);
    if (!found) {
      if (optional) continue;
      throw new Error(`${by} needs '${name}', which is not installed under ${appRoot}/node_modules: run npm ci there`);
    }
    const rel = relative(appRoot, found);
    if (seen.has(rel)) continue;
    seen.add(rel);
    enqueue(found, name);
  }
  return [...seen].sort();
}
