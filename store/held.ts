// Which image versions a store holds, as a replica announces them in /status.
import { currentVersion, imageDir, listImages, listVersions, versionDir } from './layout.js';
import { readManifestBytes } from './manifest.js';
import { sha256Hex } from './hash.js';

export interface HeldImage {
  name: string;
  version: string;
  /** sha256 of manifest.json: a pulled manifest must match it. */
  manifest: string;
  current: boolean;
}

/** Every version with a manifest, by image name, each image's versions oldest first. */
export async function heldImages(root: string): Promise<HeldImage[]> {
  const out: HeldImage[] = [];
  for (const name of await listImages(root)) {
    const current = await currentVersion(imageDir(root, name));
    for (const version of await listVersions(imageDir(root, name))) {
      const bytes = await readManifestBytes(versionDir(root, name, version));
      if (!bytes) continue;
      out.push({ name, version, manifest: sha256Hex(bytes), current: version === current });
    }
  }
  return out;
}
