// Where the project's own data (templates, overlays) lives, whether running from
// source (tsx) or from the compiled dist/ folder.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function projectRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'diskless') return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the diskless package root (package.json)');
    dir = up;
  }
}

export const defaultTemplatesDir = () => process.env.DISKLESS_TEMPLATES ?? join(projectRoot(), 'templates');
/** The boot service's shared boot-script templates (a distribution's own `<templates>/<distro>/boot/` come first). */
export const defaultBootTemplatesDir = () => process.env.DISKLESS_BOOT_TEMPLATES ?? join(projectRoot(), 'pxe', 'templates');
/** The libvirt XML templates of virtual clusters. */
export const defaultVcTemplatesDir = () => join(projectRoot(), 'vc', 'templates');
export const defaultOverlaysDir = () => process.env.DISKLESS_OVERLAYS ?? join(projectRoot(), 'overlays');
export const packageVersion = () => JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')).version as string;
