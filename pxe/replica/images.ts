// Which image versions a replica holds, as it publishes them in /status.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface HeldImage {
  name: string;
  version: string;
  /** sha256 of manifest.json: a pulled manifest must match it. */
  manifest: string;
  current: boolean;
}

const VERSION = /^\d{8}-\d{6}(\.\d+)?$|^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export async function heldImages(imagesDir: string): Promise<HeldImage[]> {
  const out: HeldImage[] = [];
  for (const name of (await readdir(imagesDir).catch(() => [] as string[])).sort()) {
    if (name.startsWith('.')) continue;
    const current = await readlink(join(imagesDir, name, 'current')).catch(() => undefined);
    for (const version of (await readdir(join(imagesDir, name)).catch(() => [] as string[])).sort()) {
      if (version.startsWith('.') || version === 'current' || !VERSION.test(version)) continue;
      const text = await readFile(join(imagesDir, name, version, 'manifest.json')).catch(() => undefined);
      if (!text) continue;
      out.push({ name, version, manifest: createHash('sha256').update(text).digest('hex'), current: version === current });
    }
  }
  return out;
}
