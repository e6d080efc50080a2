// The iPXE binaries served over HTTP (/ipxe/) and TFTP: the configured names only, each
// resolved once at start (by pxe/service.ts, for both) to the file it names. Debian's ipxe.efi is a symlink to /boot/ipxe.efi, so the
// configured names may lead out of the folder; nothing else in it is ever followed.
import { lstat, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IPXE_BIOS, IPXE_EFI_X64 } from '../dhcp/boot.js';

/** What DHCP hands out (BIOS, UEFI) and snponly.efi for UEFI firmware whose UNDI misbehaves. */
export const IPXE_BINARIES: readonly string[] = [IPXE_BIOS, IPXE_EFI_X64, 'snponly.efi'];

/** name → real path, for each of `names` that is a regular file under `dir` (through its symlinks) now. */
export async function resolveIpxeFiles(dir: string, names: readonly string[] = IPXE_BINARIES): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const name of names) {
    const real = await realpath(join(dir, name)).catch(() => undefined);
    if (real && (await stat(real).catch(() => undefined))?.isFile()) found.set(name, real);
  }
  return found;
}

/** Is `real` still a regular file, not a symlink swapped in after start? */
export async function stillRegular(real: string): Promise<boolean> {
  return (await lstat(real).catch(() => undefined))?.isFile() ?? false;
}
