// Shared pieces for the DHCP tests: a small inventory, request builders, and a
// pcap reader that pulls BOOTP payloads out of tcpdump captures.
import { parseInventory, type Inventory } from '../../../cluster/inventory.js';
import { macToBuffer } from '../../../cluster/addr.js';
import { BOOTREQUEST, MsgType, Opt } from '../../../pxe/dhcp/constants.js';
import { decode, emptyMessage, encode, type DhcpMessage } from '../../../pxe/dhcp/packet.js';
import { u8 } from '../../../pxe/dhcp/options.js';

export const SERVER_IP = '10.77.0.1';
export const HTTP_PORT = 8080;
export const NODE1_MAC = '52:54:00:77:00:01';
export const NODE2_MAC = '52:54:00:88:00:02';
export const UNKNOWN_MAC = '52:54:00:99:00:09';

export function testInventory(opts: { pool?: boolean; poolEnd?: string } = {}): Inventory {
  const pool = opts.pool ? `\n  pool: { start: 10.77.0.100, end: ${opts.poolEnd ?? '10.77.0.110'} }` : '';
  return parseInventory(
    `cluster: test
network:
  subnet: 10.77.0.0/24
  router: 10.77.0.1
  dns: [10.77.0.1, 10.77.0.2]
  domain: cluster.test
  leaseTime: 3600${pool}
subnets:
  - subnet: 10.88.0.0/24
    router: 10.88.0.1
    pool: { start: 10.88.0.100, end: 10.88.0.101 }
    relays: [10.88.0.1]
servers: [10.77.0.1]
defaults: { image: debian }
nodes:
  - { name: node1, mac: "${NODE1_MAC}", ip: 10.77.0.11 }
  - { name: node2, mac: "${NODE2_MAC}", ip: 10.88.0.12 }
`,
    'cluster.yaml',
  );
}

export interface ReqSpec {
  type: number;
  mac?: string;
  xid?: number;
  flags?: number;
  ciaddr?: string;
  giaddr?: string;
  options?: Array<[number, Buffer]>;
}

/** Build a request and pass it through the wire codec, as the server would see it. */
export function request(spec: ReqSpec): DhcpMessage {
  const m = emptyMessage(BOOTREQUEST);
  m.xid = spec.xid ?? 0x1234abcd;
  m.flags = spec.flags ?? 0;
  m.ciaddr = spec.ciaddr ?? '0.0.0.0';
  m.giaddr = spec.giaddr ?? '0.0.0.0';
  if (spec.giaddr) m.hops = 1;
  macToBuffer(spec.mac ?? NODE1_MAC).copy(m.chaddr);
  m.options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, u8(spec.type)], ...(spec.options ?? [])]);
  return decode(encode(m));
}

export const T = MsgType;

/** BOOTP payloads (UDP port 67/68) from a classic pcap file of Ethernet frames. */
export function pcapPayloads(pcap: Buffer): Buffer[] {
  const magic = pcap.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && pcap.readUInt32BE(0) !== 0xa1b2c3d4 && pcap.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const r32 = (at: number) => (le ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  const linkType = r32(20);
  const out: Buffer[] = [];
  for (let at = 24; at + 16 <= pcap.length; ) {
    const incl = r32(at + 8);
    const frame = pcap.subarray(at + 16, at + 16 + incl);
    at += 16 + incl;
    let ipAt = linkType === 1 ? 14 : linkType === 113 ? 16 : 0; // Ethernet, Linux cooked
    if (linkType === 1 && frame.readUInt16BE(12) !== 0x0800) continue;
    if (frame.length < ipAt + 20 || frame[ipAt]! >> 4 !== 4 || frame[ipAt + 9] !== 17) continue;
    ipAt += (frame[ipAt]! & 15) * 4;
    const sport = frame.readUInt16BE(ipAt);
    const dport = frame.readUInt16BE(ipAt + 2);
    const ulen = frame.readUInt16BE(ipAt + 4);
    if (![67, 68].includes(sport) && ![67, 68].includes(dport)) continue;
    out.push(Buffer.from(frame.subarray(ipAt + 8, ipAt + ulen)));
  }
  return out;
}
