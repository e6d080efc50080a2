// A replica applies the publisher's retention (store/retention.ts) to what it holds:
// `keep` is read from the manifest of the image's newest version, so every replica
// that holds the same versions keeps the same ones.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { imageDir as imageDirOf, listVersions, PRUNE_PREFIX, versionDir } from './layout.js';
import { inTurn, lockImage } from './lock.js';
import { readManifestBytes, type Manifest } from './manifest.js';
import { pruneVersions } from './publish.js';

/** The publisher's --keep, from the newest version's manifest; undefined (keep all) when it says none. */
export async function imageKeep(root: string, name: string): Promise<number | undefined> {
  const versions = await listVersions(imageDirOf(root, name));
  for (const v of versions.reverse()) {
    const bytes = await readManifestBytes(versionDir(root, name, v));
    if (!bytes) continue;
    try {
      const keep = (JSON.parse(bytes.toString('utf8')) as Manifest).keep;
      return Number.isInteger(keep) && keep! > 0 ? keep : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Prune one image to the rule, under its lock; returns the versions removed. */
export async function pruneImage(root: string, name: string): Promise<string[]> {
  const dir = imageDirOf(root, name);
  const keep = await imageKeep(root, name);
  return inTurn(dir, async () => {
    const release = await lockImage(dir);
    try {
      // Left by a prune killed midway: already out of sight, only the space is left to free.
      for (const e of await readdir(dir)) if (e.startsWith(PRUNE_PREFIX)) await rm(join(dir, e), { recursive: true, force: true });
      if (!keep) return [];
      return await pruneVersions(dir, keep);
    } finally {
      await release();
    }
  });
}

