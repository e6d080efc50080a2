// Building replies: header fields per RFC 2131 table 3, option order, and where a
// reply goes (RFC 2131 4.1). Pure.
import { BOOTREPLY, CLIENT_PORT, FLAG_BROADCAST, MsgType, Opt, SERVER_PORT } from './constants.js';
import { emptyMessage, type DhcpMessage } from './packet.js';
import { getU16List, ip, text, u8 } from './options.js';
import type { BootChoice } from './boot.js';

export interface Endpoint {
  address: string;
  port: number;
}

export interface Ports {
  /** Where clients listen (68). */
  clientPort?: number;
  /** Where relays listen (67). */
  relayPort?: number;
}

export const BROADCAST = '255.255.255.255';

/** RFC 2131 2: every client accepts a 576-octet IP datagram (a 312-octet options field). */
export const MIN_MAX_MESSAGE_SIZE = 576; // octets, IP datagram
/** IPv4 header without options, plus the UDP header. */
const IP_UDP_HEADERS = 28; // octets

/**
 * The largest DHCP message (UDP payload) a reply to `req` may be. Option 57 counts the
 * whole IP datagram (RFC 2132 9.10, as ISC dhcpd and dnsmasq read it); values under
 * 576 are not legal and count as 576, and so does a missing option (RFC 2131 2).
 */
export function maxReplySize(req: Pick<DhcpMessage, 'options'>): number {
  const asked = getU16List(req.options, Opt.MAX_MESSAGE_SIZE)[0] ?? 0;
  return Math.max(MIN_MAX_MESSAGE_SIZE, asked) - IP_UDP_HEADERS;
}
export const ZERO = '0.0.0.0';

/**
 * Reply header: xid, flags, giaddr, chaddr copied from the request; ciaddr
 * echoed only in ACKs (RFC 2131 table 3); yiaddr/siaddr as given.
 */
export function replyHeader(req: DhcpMessage, type: number, yiaddr: string, siaddr: string): DhcpMessage {
  const r = emptyMessage(BOOTREPLY);
  r.htype = req.htype;
  r.hlen = req.hlen;
  r.xid = req.xid;
  r.flags = req.flags;
  r.giaddr = req.giaddr;
  r.chaddr = Buffer.from(req.chaddr);
  r.ciaddr = type === MsgType.ACK ? req.ciaddr : ZERO;
  r.yiaddr = type === MsgType.NAK ? ZERO : yiaddr;
  r.siaddr = type === MsgType.NAK ? ZERO : siaddr;
  return r;
}

/**
 * Put the options in order: 53 and 54 first, then the codes the client listed in
 * option 55 in its order (RFC 2132 9.8: "in the order of the client's
 * preference"), then the rest; option 82 last, as relays expect (RFC 3046 2.2).
 */
export function orderOptions(type: number, serverIp: string, opts: Array<[number, Buffer]>, req: DhcpMessage): Map<number, Buffer> {
  const out = new Map<number, Buffer>([
    [Opt.MESSAGE_TYPE, u8(type)],
    [Opt.SERVER_ID, ip(serverIp)],
  ]);
  const pending = new Map(opts);
  const prl = req.options.get(Opt.PARAM_REQUEST_LIST);
  if (prl) {
    for (const code of prl) {
      const v = pending.get(code);
      if (v && !out.has(code)) {
        out.set(code, v);
        pending.delete(code);
      }
    }
  }
  for (const [code, v] of pending) if (!out.has(code)) out.set(code, v);
  // RFC 3046 2.2: the server copies option 82 into its reply unchanged.
  const relayInfo = req.options.get(Opt.RELAY_AGENT_INFO);
  if (relayInfo) out.set(Opt.RELAY_AGENT_INFO, relayInfo);
  return out;
}

/** Boot file fields: next-server, file field, options 66/67 (RFC 2132 9.4, 9.5). */
export function applyBoot(r: DhcpMessage, boot: BootChoice | undefined, serverIp: string): Array<[number, Buffer]> {
  if (!boot?.file) return [];
  r.siaddr = serverIp;
  const out: Array<[number, Buffer]> = [];
  // The file field holds 127 octets plus NUL; longer names travel in option 67 only.
  if (boot.file.length < 128) r.file = boot.file;
  if (boot.tftp) out.push([Opt.TFTP_SERVER_NAME, text(serverIp)]);
  out.push([Opt.BOOTFILE_NAME, text(boot.file)]);
  return out;
}

/**
 * Where a reply goes, RFC 2131 4.1: to the relay when giaddr is set (port 67);
 * NAKs otherwise broadcast; to ciaddr when set (RENEW, REBIND, INFORM); broadcast
 * when the client set the broadcast flag. Otherwise the RFC asks for a unicast to
 * yiaddr at chaddr, which needs an ARP entry added by hand (SIOCSARP); Node's
 * dgram cannot do that, and the kernel would ARP for an address nobody holds yet,
 * so those replies are broadcast too (which every client accepts).
 */
export function destination(req: DhcpMessage, type: number, ports: Ports): Endpoint {
  const client = ports.clientPort ?? CLIENT_PORT;
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: ports.relayPort ?? SERVER_PORT };
  if (type === MsgType.NAK) return { address: BROADCAST, port: client };
  if (req.ciaddr !== ZERO) return { address: req.ciaddr, port: client };
  if (req.flags & FLAG_BROADCAST) return { address: BROADCAST, port: client };
  return { address: BROADCAST, port: client };
}
