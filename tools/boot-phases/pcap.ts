// A classic pcap file (tcpdump -w) of Ethernet frames as IPv4 UDP/TCP packets. Pure.
// Payload lengths come from the IP and UDP headers, so a short snap length (-s) still
// gives each packet's true size; only the captured part of the payload is kept.

export interface Packet {
  /** Capture time, microseconds since the epoch (the kernel's realtime clock). */
  us: number;
  src: string;
  dst: string;
  proto: 'udp' | 'tcp';
  sport: number;
  dport: number;
  /** Payload bytes on the wire (not only the captured ones). */
  length: number;
  /** The captured start of the payload. */
  payload: Buffer;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04); 0 for UDP. */
  flags: number;
  /** TCP sequence number; 0 for UDP. */
  seq: number;
}

const MAGIC_US = 0xa1b2c3d4; // u32, microsecond timestamps
const MAGIC_NS = 0xa1b23c4d; // u32, nanosecond timestamps
const LINKTYPE_ETHERNET = 1; // u32
const LINKTYPE_LINUX_SLL = 113; // u32
const ETHERTYPE_IPV4 = 0x0800; // u16
const IPPROTO_TCP = 6; // u8
const IPPROTO_UDP = 17; // u8

const ip4 = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** Every IPv4 UDP/TCP packet of a pcap file, in file order; other frames are left out. */
export function readPcap(file: Buffer): Packet[] {
  if (file.length < 24) throw new Error(`not a pcap file: ${file.length} bytes, shorter than its 24-byte header`);
  const magicLe = file.readUInt32LE(0);
  const le = magicLe === MAGIC_US || magicLe === MAGIC_NS;
  const magic = le ? magicLe : file.readUInt32BE(0);
  if (magic !== MAGIC_US && magic !== MAGIC_NS) throw new Error(`not a pcap file: magic 0x${magic.toString(16)} (a pcapng file? write it with tcpdump -w, not dumpcap)`);
  const r32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = r32(20);
  const out: Packet[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const sec = r32(at);
    const frac = r32(at + 4);
    const incl = r32(at + 8);
    const frame = file.subarray(at + 16, Math.min(file.length, at + 16 + incl));
    at += 16 + incl;
    const p = ipPacket(frame, linkType);
    if (p) out.push({ us: sec * 1e6 + (magic === MAGIC_NS ? Math.floor(frac / 1000) : frac), ...p });
  }
  return out;
}

function ipPacket(frame: Buffer, linkType: number): Omit<Packet, 'us'> | undefined {
  let ipAt: number;
  if (linkType === LINKTYPE_ETHERNET) ipAt = 14;
  else if (linkType === LINKTYPE_LINUX_SLL) ipAt = 16;
  else return undefined;
  if (frame.length < ipAt + 20 || frame.readUInt16BE(ipAt - 2) !== ETHERTYPE_IPV4 || frame[ipAt]! >> 4 !== 4) return undefined;
  const ihl = (frame[ipAt]! & 15) * 4;
  const total = frame.readUInt16BE(ipAt + 2);
  const proto = frame[ipAt + 9];
  const l4 = ipAt + ihl;
  if (frame.length < l4 + 8) return undefined;
  const base = { src: ip4(frame, ipAt + 12), dst: ip4(frame, ipAt + 16), sport: frame.readUInt16BE(l4), dport: frame.readUInt16BE(l4 + 2) };
  if (proto === IPPROTO_UDP) {
    const length = frame.readUInt16BE(l4 + 4) - 8;
    return { ...base, proto: 'udp', length, payload: Buffer.from(frame.subarray(l4 + 8, l4 + 8 + length)), flags: 0, seq: 0 };
  }
  if (proto === IPPROTO_TCP && frame.length >= l4 + 20) {
    const off = (frame[l4 + 12]! >> 4) * 4;
    const length = total - ihl - off;
    return { ...base, proto: 'tcp', length, payload: Buffer.from(frame.subarray(l4 + off, l4 + off + length)), flags: frame[l4 + 13]!, seq: frame.readUInt32BE(l4 + 4) };
  }
  return undefined;
}
