// The images folder: <root>/<name>/<version>/ holds one complete image (its
// artifacts and manifest.json); <root>/<name>/current is a symlink to the version
// nodes get by default. Names starting with a dot are private to a writer (staging,
// lock, temp links) and never served. Nodes name an image as `name` or `name/version`.
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sortVersions } from './version.js';

/** Image names, version names and artifact file names: no slash, no leading dot. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const CURRENT = 'current';
export const MANIFEST_FILE = 'manifest.json';
export const LOCK_FILE = '.lock';
/** A build's private folder, .build-<version>, renamed to <version> when every step passed. */
export const STAGING_PREFIX = '.build-';
/** A pull's private folder, .pull-<version>-<pid>, renamed to <version> when every artifact checked out. */
export const PULL_PREFIX = '.pull-';
/** A version being pruned, .prune-<version>-<pid>: renamed out of sight, then removed. */
export const PRUNE_PREFIX = '.prune-';

export function isSafeName(s: string): boolean {
  return SAFE_NAME.test(s);
}

export function imageDir(root: string, name: string): string {
  return join(root, name);
}

export function versionDir(root: string, name: string, version: string): string {
  return join(root, name, version);
}

/** The version `current` points at, if any. */
export async function currentVersion(imageDir: string): Promise<string | undefined> {
  return readlink(join(imageDir, CURRENT)).catch(() => undefined);
}

/** Image names under `root`, sorted. */
export async function listImages(root: string): Promise<string[]> {
  return (await readdir(root).catch(() => [] as string[])).filter(isSafeName).sort();
}

/** Version names under one image folder (no hidden entries, not `current`), oldest first. */
export async function listVersions(imageDir: string): Promise<string[]> {
  const names = await readdir(imageDir).catch(() => [] as string[]);
  return sortVersions(names.filter((v) => v !== CURRENT && isSafeName(v)));
}
