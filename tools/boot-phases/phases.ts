// One network boot split into phases, from what the host sees: the packets on the node's
// tap (tools/boot-phases/pcap.ts) and the lines of its serial console, all on one clock
// (milliseconds since power-on). Pure; the same rules for every server, ours or a peer.
//
// Marks (the first of each, in order):
//   dhcpAck        the server's first DHCPACK to the node's MAC (the firmware's DHCP)
//   kernelRequest  the node asks for the kernel (HTTP GET or TFTP RRQ)
//   initrdSent     the last payload packet of the initrd's answer
//   initStart      console: the initrd's /init says "diskless: ... starting"
//   rootRequest    the node asks for the root image
//   rootSent       the last payload packet of the root image's answer
//   nodeUp         console: the image's "diskless: node-up" line
// Phases:
//   dhcp           power-on -> dhcpAck (firmware start included)
//   loader         dhcpAck -> kernelRequest (iPXE or shim/GRUB, their DHCP, script or grub.cfg)
//   kernelInitrd   kernelRequest -> initrdSent
//   root           initrdSent -> rootSent (kernel start, the initrd's DHCP, the root download)
//   init           rootSent -> nodeUp (root checked and mounted, the image's init)
import type { Packet } from './pcap.js';

export const DHCP_SERVER_PORT = 67; // udp
export const TFTP_PORT = 69; // udp
const TFTP_RRQ = 1; // u16 opcode
const DHCP_OPTION_MSG_TYPE = 53; // u8
const DHCP_ACK = 5; // u8
const DHCP_MAGIC_AT = 236; // the options start after the 4-byte magic cookie
const DHCP_CHADDR_AT = 28;

export interface BootFiles {
  /** File names (the last path part) of the image's artifacts. */
  kernel: string;
  initrd: string;
  root: string;
}

export interface Request {
  ms: number;
  path: string;
  /** The node's port: the flow its answer comes back on. */
  port: number;
  via: 'http' | 'tftp';
}

export type MarkName = 'dhcpAck' | 'kernelRequest' | 'initrdSent' | 'initStart' | 'rootRequest' | 'rootSent' | 'switchRoot' | 'nodeUp';
export type Marks = Partial<Record<MarkName, number>>;
export const PHASES = ['dhcp', 'loader', 'kernelInitrd', 'root', 'init'] as const;
export type PhaseName = (typeof PHASES)[number];
export type Phases = Record<PhaseName | 'total', number | null>;

/** The DHCP message type of a BOOTP payload, when option 53 is within the captured bytes. */
function dhcpType(p: Buffer): number | undefined {
  for (let at = DHCP_MAGIC_AT + 4; at + 1 < p.length; ) {
    const code = p[at]!;
    if (code === 0) { at++; continue; }
    if (code === 255) return undefined;
    if (code === DHCP_OPTION_MSG_TYPE) return p[at + 2];
    at += 2 + p[at + 1]!;
  }
  return undefined;
}

const macOf = (p: Buffer) => [...p.subarray(DHCP_CHADDR_AT, DHCP_CHADDR_AT + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Requests the node sent: HTTP GET request lines and TFTP read requests. */
export function requests(packets: Packet[], nodeIp: string, toMs: (us: number) => number): Request[] {
  const out: Request[] = [];
  for (const p of packets) {
    if (p.src !== nodeIp || p.length === 0) continue;
    if (p.proto === 'tcp' && p.payload.subarray(0, 4).toString('latin1') === 'GET ') {
      const path = p.payload.toString('latin1').split(/[ \r\n]/)[1] ?? '';
      out.push({ ms: toMs(p.us), path, port: p.sport, via: 'http' });
    } else if (p.proto === 'udp' && p.dport === TFTP_PORT && p.payload.length > 2 && p.payload.readUInt16BE(0) === TFTP_RRQ) {
      const end = p.payload.indexOf(0, 2);
      out.push({ ms: toMs(p.us), path: p.payload.subarray(2, end < 0 ? undefined : end).toString('latin1'), port: p.sport, via: 'tftp' });
    }
  }
  return out;
}

const TFTP_DATA = 3; // u16 opcode

/**
 * When the node had the whole answer to `req`: the first packet that carried its last new
 * byte (TCP: the highest sequence end; TFTP: the highest DATA block), on the request's
 * flow and before the node's next request on that port. Retransmissions after it (a loader
 * that jumped to the kernel without acknowledging the tail) do not move it.
 */
export function answerEnd(packets: Packet[], nodeIp: string, req: Request, all: Request[], toMs: (us: number) => number): number | undefined {
  const next = all.find((r) => r.port === req.port && r.ms > req.ms)?.ms ?? Infinity;
  let best = -1;
  let end: number | undefined;
  let firstSeq: number | undefined;
  for (const p of packets) {
    if (p.dst !== nodeIp || p.dport !== req.port || p.length === 0) continue;
    if (req.via === 'http' ? p.proto !== 'tcp' : p.proto !== 'udp' || p.payload.length < 4 || p.payload.readUInt16BE(0) !== TFTP_DATA) continue;
    const ms = toMs(p.us);
    if (ms < req.ms || ms >= next) continue;
    firstSeq ??= p.seq;
    // TCP: bytes past the first answer packet's start (mod 2^32); TFTP: the block number.
    const reach = req.via === 'http' ? ((p.seq - firstSeq) >>> 0) + p.length : p.payload.readUInt16BE(2);
    if (reach > best) {
      best = reach;
      end = ms;
    }
  }
  return end;
}

const base = (path: string) => path.split('?')[0]!.split('/').pop()!;

/** Marks from the node's packets; `toMs` maps a capture time to the boot's clock. */
export function networkMarks(packets: Packet[], node: { mac: string; ip: string }, files: BootFiles, toMs: (us: number) => number): Marks {
  const m: Marks = {};
  const ack = packets.find((p) => p.proto === 'udp' && p.sport === DHCP_SERVER_PORT && p.payload.length > DHCP_MAGIC_AT && macOf(p.payload) === node.mac.toLowerCase() && dhcpType(p.payload) === DHCP_ACK);
  if (ack) m.dhcpAck = toMs(ack.us);
  const reqs = requests(packets, node.ip, toMs);
  const first = (file: string) => reqs.find((r) => base(r.path) === file);
  const kernel = first(files.kernel);
  const initrd = first(files.initrd);
  const root = first(files.root);
  if (kernel) m.kernelRequest = kernel.ms;
  if (initrd) m.initrdSent = answerEnd(packets, node.ip, initrd, reqs, toMs);
  if (root) {
    m.rootRequest = root.ms;
    m.rootSent = answerEnd(packets, node.ip, root, reqs, toMs);
  }
  return m;
}

// Not anchored: the serial console may print the line after a getty's "login: " prompt.
export const CONSOLE_MARKS: Array<[MarkName, RegExp]> = [
  ['initStart', /\bdiskless: \S+ starting/],
  ['switchRoot', /\bdiskless: switching to the image's init/],
  ['nodeUp', /\bdiskless: node-up /],
];

/** Marks from serial console lines, each with the time it arrived. */
export function consoleMarks(lines: Array<{ ms: number; line: string }>): Marks {
  const m: Marks = {};
  for (const { ms, line } of lines) {
    for (const [name, re] of CONSOLE_MARKS) if (m[name] === undefined && re.test(line.trim())) m[name] = ms;
  }
  return m;
}

const span = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : +(b - a).toFixed(0));

/** The phases between marks (ms); null where a mark is missing. */
export function phases(m: Marks): Phases {
  return {
    dhcp: span(0, m.dhcpAck),
    loader: span(m.dhcpAck, m.kernelRequest),
    kernelInitrd: span(m.kernelRequest, m.initrdSent),
    root: span(m.initrdSent, m.rootSent),
    init: span(m.rootSent, m.nodeUp),
    total: span(0, m.nodeUp),
  };
}

/** Marks out of order or missing, for the report: a boot whose marks do not line up is not counted. */
export function markProblems(m: Marks): string[] {
  const order: MarkName[] = ['dhcpAck', 'kernelRequest', 'initrdSent', 'rootRequest', 'rootSent', 'nodeUp'];
  const out = order.filter((k) => m[k] === undefined).map((k) => `no ${k}`);
  for (let i = 1; i < order.length; i++) {
    const [a, b] = [m[order[i - 1]!], m[order[i]!]];
    if (a !== undefined && b !== undefined && b < a) out.push(`${order[i]} before ${order[i - 1]}`);
  }
  return out;
}
