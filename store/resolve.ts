// Which version folder an image reference names: `name` (its current version) or
// `name/version` (pinned).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { currentVersion, imageDir, isSafeName, MANIFEST_FILE, versionDir } from './layout.js';
import type { Manifest } from './manifest.js';

export interface ResolvedImage {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
}

/** Resolve `ref` under `root`; throws an error that says what is missing. */
export async function resolveImage(root: string, ref: string): Promise<ResolvedImage> {
  const [name, pinned, ...rest] = ref.split('/');
  if (!name || !isSafeName(name) || rest.length || (pinned !== undefined && !isSafeName(pinned))) {
    throw new Error(`image reference '${ref}' is not 'name' or 'name/version'`);
  }
  const version = pinned ?? (await currentVersion(imageDir(root, name)));
  if (!version) throw new Error(`image '${name}' has no current version under ${root} (build it: diskless build-image ... --out ${root})`);
  const dir = versionDir(root, name, version);
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  if (!text) throw new Error(`image '${name}' version ${version} has no manifest.json in ${dir}`);
  return { name, version, dir, manifest: JSON.parse(text) as Manifest };
}
