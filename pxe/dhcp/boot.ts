// What a network-booting client is (PXE ROM, iPXE, UEFI HTTP boot, plain DHCP
// client) and what it should load next. Pure.
import { Arch, IpxeSub, Opt, PXE_DISCOVERY_USE_BOOTFILE, PxeSub, USER_CLASS_IPXE, VENDOR_HTTP, VENDOR_PXE } from './constants.js';
import { encodeSubOptions, getText, getU16List, text, u8, type DhcpOptions } from './options.js';

export interface ClientKind {
  /** Option 60 starts with PXEClient (PXE 2.1 2.2.1). */
  pxe: boolean;
  /** Option 60 starts with HTTPClient, or arch 16 (UEFI 2.5 24.7.2). */
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
}

export interface BootChoice {
  /** What goes into the file field and option 67; undefined if we have nothing for this client. */
  file?: string;
  /** Fetched over TFTP from siaddr (true) or an HTTP URL (false). */
  tftp: boolean;
  /** Why there is no boot file, for the log. */
  note?: string;
}

/** iPXE binaries per firmware, served by our TFTP service. */
export const IPXE_BIOS = 'undionly.kpxe';
export const IPXE_EFI_X64 = 'ipxe.efi';

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
    http: vendor.startsWith(VENDOR_HTTP) || arch === Arch.EFI_X64_HTTP,
    ipxe: userClassHas(opts.get(Opt.USER_CLASS), USER_CLASS_IPXE) || opts.has(Opt.IPXE_ENCAP),
    arch,
    archGiven: archs.length > 0,
  };
}

/** `52:54:00:aa:bb:cc` -> `52-54-00-aa-bb-cc`, the per-node script name the HTTP service serves. */
export const macDashes = (mac: string) => mac.replace(/:/g, '-');

export function chooseBoot(kind: ClientKind, mac: string, t: BootTarget): BootChoice {
  const http = `http://${t.serverIp}:${t.httpPort}`;
  // iPXE already runs: hand it its per-node script over HTTP.
  if (kind.ipxe) return { file: `${http}/boot/${macDashes(mac)}.ipxe`, tftp: false };
  // UEFI HTTP boot: the firmware fetches an EFI binary by URL.
  if (kind.http) return { file: `${http}/ipxe/${IPXE_EFI_X64}`, tftp: false };
  // PXE firmware (or a plain client): chainload iPXE over TFTP.
  switch (kind.arch) {
    case Arch.BIOS:
      return { file: IPXE_BIOS, tftp: true };
    case Arch.EFI_X64:
    case Arch.EFI_BC:
      return { file: IPXE_EFI_X64, tftp: true };
    default:
      return { tftp: true, note: `no iPXE binary for client architecture ${kind.arch}` };
  }
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
