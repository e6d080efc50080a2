// What a network-booting client is (PXE ROM, iPXE, UEFI HTTP boot, plain DHCP
// client) and what it should load next. Pure.
import { Arch, IpxeSub, Opt, PXE_DISCOVERY_USE_BOOTFILE, PxeSub, USER_CLASS_IPXE, VENDOR_HTTP, VENDOR_PXE } from './constants.js';
import { encodeSubOptions, getText, getU16List, text, u8, type DhcpOptions } from './options.js';
import type { Firmware, InventoryNode } from '../../cluster/inventory.js';

export interface ClientKind {
  /** Option 60 starts with PXEClient (PXE 2.1 2.2.1). */
  pxe: boolean;
  /** Option 60 starts with HTTPClient, or arch 16/19 (UEFI 2.5 24.7.2). */
  http: boolean;
  /** iPXE: option 77 is "iPXE", or option 175 is present. */
  ipxe: boolean;
  /** First value of option 93; BIOS when absent (RFC 4578 2.1: absent means x86 BIOS). */
  arch: number;
  archGiven: boolean;
}

export interface BootTarget {
  serverIp: string;
  httpPort: number;
  /** Does this replica serve TFTP? Default: yes. Without it, clients that need TFTP are left to a replica that does. */
  tftp?: boolean;
}

/** What the inventory says of the node (nothing for a MAC it does not list). */
export type BootNode = Pick<InventoryNode, 'firmware' | 'role'>;

export interface BootChoice {
  /** What goes into the file field and option 67; undefined if we have nothing for this client. */
  file?: string;
  /** Fetched over TFTP from siaddr (true) or an HTTP URL (false). */
  tftp: boolean;
  /** Why there is no boot file (or why the inventory overrode the client), for the log. */
  note?: string;
  /** Send nothing: a replica that serves TFTP answers, or the firmware goes on to its next boot path. */
  silent?: boolean;
}

/** iPXE binaries per firmware, as Debian's ipxe package names them in --ipxe-dir. */
export const IPXE_BIOS = 'undionly.kpxe';
export const IPXE_EFI_X64 = 'ipxe.efi';
/** iPXE over the firmware's SNP driver only: for UEFI firmware whose UNDI misbehaves (not handed out by default). */
export const IPXE_SNP_X64 = 'snponly.efi';
/** The Secure Boot chain: Microsoft-signed shim, which loads the Debian-signed GRUB from the same TFTP folder. */
export const SHIM_X64 = 'shimx64.efi';
/** GRUB (EFI, network): Secure Boot after shim, and xen-dom0 under UEFI (iPXE EFI cannot multiboot2). */
export const GRUB_X64 = 'grubx64.efi';

const NO_ARM64 = "no boot file for arm64 UEFI: Debian's ipxe and shim packages here are x86 builds (see the README's firmware table)";

type Family = 'bios' | 'efi-x64' | 'efi-arm64' | 'other';

/** Which firmware option 93 names (RFC 4578 2.1; HTTP boot types from IANA). */
export function archFamily(arch: number): Family {
  switch (arch) {
    case Arch.BIOS:
      return 'bios';
    case Arch.EFI_X64:
    case Arch.EFI_BC:
    case Arch.EFI_X64_HTTP:
      return 'efi-x64';
    case Arch.EFI_ARM64:
    case Arch.EFI_ARM64_HTTP:
      return 'efi-arm64';
    default:
      return 'other';
  }
}

/** RFC 3004 user class: iPXE sends the bare text; RFC-style clients send length-prefixed instances. */
function userClassHas(v: Buffer | undefined, want: string): boolean {
  if (!v) return false;
  if (v.toString('latin1') === want) return true;
  for (let i = 0; i < v.length; ) {
    const len = v[i]!;
    if (v.subarray(i + 1, i + 1 + len).toString('latin1') === want) return true;
    i += 1 + len;
  }
  return false;
}

export function classify(opts: DhcpOptions): ClientKind {
  const vendor = getText(opts, Opt.VENDOR_CLASS_ID) ?? '';
  const archs = getU16List(opts, Opt.CLIENT_ARCH);
  const arch = archs[0] ?? Arch.BIOS;
  return {
    pxe: vendor.startsWith(VENDOR_PXE),
    http: vendor.startsWith(VENDOR_HTTP) || arch === Arch.EFI_X64_HTTP || arch === Arch.EFI_ARM64_HTTP,
    ipxe: userClassHas(opts.get(Opt.USER_CLASS), USER_CLASS_IPXE) || opts.has(Opt.IPXE_ENCAP),
    arch,
    archGiven: archs.length > 0,
  };
}

/** `52:54:00:aa:bb:cc` -> `52-54-00-aa-bb-cc`, the per-node script name the HTTP service serves. */
export const macDashes = (mac: string) => mac.replace(/:/g, '-');

/**
 * The decision table (README "Which firmware gets which file"): iPXE gets its per-node
 * script; UEFI HTTP boot gets an EFI binary by URL; PXE firmware gets a loader over
 * TFTP, chosen by the inventory's `firmware:` when given, else by option 93.
 */
export function chooseBoot(kind: ClientKind, mac: string, t: BootTarget, node?: BootNode): BootChoice {
  const http = `http://${t.serverIp}:${t.httpPort}`;
  const fw = node?.firmware;
  const xen = node?.role === 'xen-dom0';
  const family = archFamily(kind.arch);
  // iPXE already runs: hand it its per-node script; under UEFI a Dom0 needs GRUB's multiboot2.
  if (kind.ipxe) {
    if (xen && fw !== 'bios' && family === 'efi-x64') return overTftp(GRUB_X64, t, 'xen-dom0 under UEFI: GRUB loads Xen');
    return { file: `${http}/boot/${macDashes(mac)}.ipxe`, tftp: false };
  }
  // UEFI HTTP boot: the firmware fetches an EFI binary by URL.
  if (kind.http) {
    if (fw === 'uefi-secure') return { tftp: false, note: 'firmware uefi-secure boots shim and GRUB over TFTP, not by HTTP boot' };
    if (xen) return { tftp: false, note: 'xen-dom0 under UEFI boots GRUB over TFTP (PXE), not by HTTP boot' };
    if (family === 'efi-arm64') return { tftp: false, note: NO_ARM64 };
    return { file: `${http}/ipxe/${IPXE_EFI_X64}`, tftp: false };
  }
  // A firmware meant for HTTP boot: its PXE attempt gets nothing, so it moves on to HTTP boot.
  if (fw === 'uefi-http' && kind.pxe) return { tftp: false, silent: true, note: 'firmware uefi-http: left to its HTTP boot' };
  const file = family === 'efi-arm64' ? undefined : loaderFor(fw, family, xen);
  if (!file) return { tftp: true, note: family === 'efi-arm64' ? NO_ARM64 : `no boot file for client architecture ${kind.arch}` };
  const clash = fw && kind.archGiven && family !== 'other' && (fw === 'bios') !== (family === 'bios');
  const note = clash ? `inventory says firmware ${fw}, the client says architecture ${kind.arch}; the inventory wins` : undefined;
  // A plain DHCP client (not PXE) still gets its address from a replica without TFTP.
  if (t.tftp === false && !kind.pxe) return { tftp: true, note: 'no TFTP on this replica' };
  return overTftp(file, t, note);
}

/** The loader a PXE client fetches over TFTP. */
function loaderFor(fw: Firmware | undefined, family: Family, xen: boolean): string | undefined {
  switch (fw ?? family) {
    case 'bios':
      return IPXE_BIOS;
    case 'uefi-secure':
      return SHIM_X64;
    case 'uefi':
    case 'uefi-http': // a plain DHCP client of a uefi-http node: as uefi
    case 'efi-x64':
      return xen ? GRUB_X64 : IPXE_EFI_X64;
    default:
      return undefined;
  }
}

function overTftp(file: string, t: BootTarget, note?: string): BootChoice {
  if (t.tftp === false) return { tftp: true, silent: true, note: `${file} is fetched over TFTP, which this replica does not serve; a replica with TFTP answers` };
  return { file, tftp: true, note };
}

/**
 * Options that only network-boot clients get: for PXE, option 60 PXEClient, option
 * 43 telling it to take the boot file from DHCP (PXE 2.1 2.2.5), and option 97 echoed
 * (PXE 2.1 2.2.4); for UEFI HTTP boot, option 60 HTTPClient; for iPXE, option 175
 * with no-pxedhcp so it does not wait for proxyDHCP offers.
 */
export function bootOptions(kind: ClientKind, req: DhcpOptions): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  if (kind.http) out.push([Opt.VENDOR_CLASS_ID, text(VENDOR_HTTP)]);
  else if (kind.pxe) {
    out.push([Opt.VENDOR_CLASS_ID, text(VENDOR_PXE)]);
    out.push([Opt.VENDOR_SPECIFIC, encodeSubOptions(new Map([[PxeSub.DISCOVERY_CONTROL, u8(PXE_DISCOVERY_USE_BOOTFILE)]]))]);
  }
  const uuid = req.get(Opt.CLIENT_UUID);
  if (uuid && (kind.pxe || kind.http)) out.push([Opt.CLIENT_UUID, uuid]);
  if (kind.ipxe) out.push([Opt.IPXE_ENCAP, encodeSubOptions(new Map([[IpxeSub.NO_PXEDHCP, u8(1)]]), false)]);
  return out;
}
