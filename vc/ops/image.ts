// The image a VC boots: resolved once, at create, from the images folder; its files'
// absolute paths and its cmdline go into the record, so later commands (a start that
// must define a domain again) need neither the folder nor the current link.
import { join, resolve } from 'node:path';
import { imageDir, listImages, listVersions } from '../../store/layout.js';
import { resolveImage } from '../../store/resolve.js';
import type { VcSpec } from '../spec.js';
import { imageRef } from '../spec.js';

/** The artifacts of the manifest a VC node boots from. */
export const BOOT_ARTIFACTS = ['kernel', 'initrd', 'root'] as const;

export interface BootFiles {
  kernel: string;
  initrd: string;
  /** The read-only root image, shared by every VM of the host. */
  root: string;
  /** The image manifest's kernel command line. */
  cmdline: string;
}

export interface VcImage {
  name: string;
  version: string;
  boot: BootFiles;
}

export async function resolveVcImage(imagesDir: string, image: VcSpec['image']): Promise<VcImage> {
  const root = resolve(imagesDir);
  const names = await listImages(root);
  if (!names.includes(image.name)) {
    throw new Error(`unknown image '${image.name}' in ${root}; ${names.length ? `there are: ${names.join(', ')}` : 'it holds none (build one: diskless build-image debian --out ' + root + ')'}`);
  }
  if (image.version !== undefined) {
    const versions = await listVersions(imageDir(root, image.name));
    if (!versions.includes(image.version)) throw new Error(`image '${image.name}' has no version ${image.version} in ${root}; it has: ${versions.join(', ') || 'none'}`);
  }
  const r = await resolveImage(root, imageRef(image));
  const files = BOOT_ARTIFACTS.map((k) => {
    const a = r.manifest.artifacts[k];
    if (!a) throw new Error(`image ${r.name}/${r.version} has no ${k} in its manifest; a VC node boots kernel, initrd and root`);
    return join(r.dir, a.file);
  });
  return { name: r.name, version: r.version, boot: { kernel: files[0]!, initrd: files[1]!, root: files[2]!, cmdline: r.manifest.cmdline ?? '' } };
}
