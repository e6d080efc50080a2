// Protocol numbers for DHCP/BOOTP and PXE, each named once with the type of its value.
// RFC 2131 (DHCP), RFC 2132 (options), RFC 3046 (relay agent info), RFC 4578 (PXE
// options), RFC 3004 (user class), PXE 2.1 spec, iPXE's encapsulated options.

/** BOOTP `op` field (RFC 2131 2). */
export const BOOTREQUEST = 1; // u8
export const BOOTREPLY = 2; // u8

/** `htype` for Ethernet (RFC 1700 ARP hardware types); `hlen` must be 6 then. */
export const HTYPE_ETHERNET = 1; // u8
export const ETHERNET_HLEN = 6; // u8

/** RFC 2131 3: the first four octets of the options field. */
export const MAGIC_COOKIE = 0x63825363; // u32, 99.130.83.99

/** RFC 2131 2: leftmost bit of `flags`. */
export const FLAG_BROADCAST = 0x8000; // u16

/** RFC 951 / RFC 1542 2.1: messages are at least 300 octets (BOOTP minimum). */
export const BOOTP_MIN_LEN = 300;

export const SERVER_PORT = 67; // udp
export const CLIENT_PORT = 68; // udp
/** PXE 2.1 2.2.6: boot server discovery / proxyDHCP REQUEST port. */
export const PXE_PORT = 4011; // udp

/** Option 53 values (RFC 2132 9.6). */
export const MsgType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MsgTypeValue = (typeof MsgType)[keyof typeof MsgType];
export const MSG_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MsgType).map(([k, v]) => [v, k]));

/** Option codes. The trailing comment is the type of the value. */
export const Opt = {
  PAD: 0, // none (single octet)
  SUBNET_MASK: 1, // ip (RFC 2132 3.3)
  ROUTER: 3, // ip[] (RFC 2132 3.5)
  DNS: 6, // ip[] (RFC 2132 3.8)
  HOST_NAME: 12, // text (RFC 2132 3.14)
  DOMAIN_NAME: 15, // text (RFC 2132 3.17)
  VENDOR_SPECIFIC: 43, // sub-options (RFC 2132 8.4; PXE 2.1 table 2-1)
  REQUESTED_IP: 50, // ip (RFC 2132 9.1)
  LEASE_TIME: 51, // u32 seconds (RFC 2132 9.2)
  OVERLOAD: 52, // u8: 1 file, 2 sname, 3 both (RFC 2132 9.3)
  MESSAGE_TYPE: 53, // u8 MsgType (RFC 2132 9.6)
  SERVER_ID: 54, // ip (RFC 2132 9.7)
  PARAM_REQUEST_LIST: 55, // u8[] option codes (RFC 2132 9.8)
  MESSAGE: 56, // text (RFC 2132 9.9)
  MAX_MESSAGE_SIZE: 57, // u16 (RFC 2132 9.10)
  RENEWAL_TIME: 58, // u32 seconds, T1 (RFC 2132 9.11)
  REBINDING_TIME: 59, // u32 seconds, T2 (RFC 2132 9.12)
  VENDOR_CLASS_ID: 60, // text (RFC 2132 9.13)
  CLIENT_ID: 61, // bytes: type + id, may hold zeros (RFC 2132 9.14)
  TFTP_SERVER_NAME: 66, // text (RFC 2132 9.4)
  BOOTFILE_NAME: 67, // text (RFC 2132 9.5)
  USER_CLASS: 77, // bytes; iPXE sends the bare text "iPXE" (RFC 3004)
  RELAY_AGENT_INFO: 82, // sub-options, echoed unchanged (RFC 3046)
  CLIENT_ARCH: 93, // u16[] (RFC 4578 2.1)
  CLIENT_NDI: 94, // u8 type, u8 major, u8 minor (RFC 4578 2.2)
  CLIENT_UUID: 97, // u8 type (0) + 16-byte GUID (RFC 4578 2.3)
  IPXE_ENCAP: 175, // sub-options (iPXE)
  END: 255, // none (single octet)
} as const;

/** Sub-options of option 43 for PXE clients (PXE 2.1 table 2-1). */
export const PxeSub = {
  DISCOVERY_CONTROL: 6, // u8 bit field
} as const;
/** PXE_DISCOVERY_CONTROL bit 3: use the boot file name from DHCP, skip discovery. */
export const PXE_DISCOVERY_USE_BOOTFILE = 8; // u8

/** Sub-options of option 175 (iPXE). */
export const IpxeSub = {
  NO_PXEDHCP: 176, // u8: 1 = do not wait for proxyDHCP offers
} as const;

/** Option 93 values (RFC 4578 2.1, IANA "Processor Architecture Types"). */
export const Arch = {
  BIOS: 0, // x86 BIOS
  EFI_IA32: 6,
  EFI_X64: 7,
  EFI_BC: 9, // EFI byte code; in practice x64 firmware
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  EFI_X64_HTTP: 16, // UEFI HTTP boot, x64
  EFI_ARM64_HTTP: 19, // UEFI HTTP boot, arm64
} as const;
export const ARCH_NAMES: Record<number, string> = {
  0: 'bios',
  6: 'efi-ia32',
  7: 'efi-x64',
  9: 'efi-bc',
  10: 'efi-arm32',
  11: 'efi-arm64',
  16: 'efi-x64-http',
  19: 'efi-arm64-http',
};

/** Vendor class prefixes (PXE 2.1 2.2.1; UEFI 2.5 24.7.2 HTTP boot). */
export const VENDOR_PXE = 'PXEClient'; // text
export const VENDOR_HTTP = 'HTTPClient'; // text
/** Option 77 value sent by iPXE. */
export const USER_CLASS_IPXE = 'iPXE'; // text
