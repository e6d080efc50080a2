// What a TFTP name asks for besides the files of the root folder: the Secure Boot
// chain (Debian's signed shim, then the signed network GRUB it loads from its own
// folder), the GRUB module it lacks for Xen (multiboot2), GRUB's bootstrap config at its
// prefix, and the HTTP names for per-node scripts and image artifacts (GRUB under Secure
// Boot has no http module). Pure.
import { route, type Route } from '../http/routes.js';
import { GRUB_X64, SHIM_X64 } from '../dhcp/boot.js';
import { GRUB_MULTIBOOT2_MOD, GRUB_NET_SIGNED, SHIM_SIGNED } from '../../lib/boot-binaries.js';

// Shim loads GRUB_X64 from the folder it was itself loaded from (shim's DEFAULT_LOADER).
export { GRUB_X64, SHIM_X64 };
/** Debian's signed grubnetx64 has the prefix /grub: it reads grub/x86_64-efi/grub.cfg if there, else this. */
export const GRUB_BOOTSTRAP = 'grub/grub.cfg';

/** Debian's signed binaries, by the name served: packages shim-signed and grub-efi-amd64-signed. */
export const SECURE_BOOT_CHAIN: Readonly<Record<string, string>> = {
  [SHIM_X64]: SHIM_SIGNED,
  [GRUB_X64]: GRUB_NET_SIGNED,
};

/**
 * multiboot2, which the signed GRUB lacks and a Xen Dom0 on UEFI needs: GRUB loads it from
 * its prefix, so from here (Secure Boot off only). Package grub-efi-amd64-bin, of the same
 * version as the signed GRUB (modules are bound to the GRUB build that loads them).
 */
export const GRUB_MULTIBOOT2 = 'grub/x86_64-efi/multiboot2.mod';
export const GRUB_MODULES: Readonly<Record<string, string>> = {
  [GRUB_MULTIBOOT2]: GRUB_MULTIBOOT2_MOD,
};

/** A step of a network boot, as boot events name it. */
export type BootStep = 'shim' | 'grub' | 'grub-module' | 'grub.cfg' | 'node-cfg' | 'ipxe-script' | 'kernel' | 'initrd' | 'xen' | 'root' | 'service' | 'manifest';

export type TftpName =
  | { kind: 'chain'; file: string; step: BootStep }
  | { kind: 'grub-bootstrap' }
  | Extract<Route, { kind: 'boot-script' | 'artifact' | 'artifact-sha256' }>
  /** Anything else: a file of the root folder (the iPXE binaries). */
  | { kind: 'root' };

const CHAIN_STEP: Readonly<Record<string, BootStep>> = { [SHIM_X64]: 'shim', [GRUB_X64]: 'grub', [GRUB_MULTIBOOT2]: 'grub-module' };

/** `name` as cleaned by paths.ts cleanName (no leading '/', no '..'). */
export function tftpName(name: string): TftpName {
  const step = CHAIN_STEP[name];
  if (step) return { kind: 'chain', file: name, step };
  if (name === GRUB_BOOTSTRAP) return { kind: 'grub-bootstrap' };
  const r = route(`/${name}`);
  if (r.kind === 'boot-script' || r.kind === 'artifact' || r.kind === 'artifact-sha256') return r;
  return { kind: 'root' };
}

/** The step an artifact is, by its key in the manifest's artifacts (kernel, initrd, root, ...). */
export function artifactStep(key: string): BootStep | undefined {
  const known: readonly string[] = ['kernel', 'initrd', 'xen', 'root', 'service'];
  return known.includes(key) ? (key as BootStep) : undefined;
}
