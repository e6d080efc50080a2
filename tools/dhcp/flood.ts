// A DHCP starvation attacker, for the limit tests: broadcast requests from spoofed
// client MACs, sent from 0.0.0.0:68 the way an unconfigured host sends them (the
// namespace needs `ip route add 255.255.255.255/32 dev IF` and no address).
// - dora: DISCOVER from each MAC, and a REQUEST for every OFFER that comes back;
// - selecting: REQUEST naming the server and a pool address, with no DISCOVER before;
// - initReboot: REQUEST with only a requested address (INIT-REBOOT, RFC 2131 4.3.2).
// As a process: `node --import tsx/esm flood.ts '<json FloodOptions>'` prints "RESULT {json}".
import dgram from 'node:dgram';
import { formatIp4, macToBuffer, parseIp4 } from '../../cluster/addr.js';
import { BOOTREQUEST, CLIENT_PORT, FLAG_BROADCAST, MsgType, Opt, SERVER_PORT } from '../../pxe/dhcp/constants.js';
import { decode, emptyMessage, encode } from '../../pxe/dhcp/packet.js';
import { getIp, getU8, ip, u8 } from '../../pxe/dhcp/options.js';

export interface FloodOptions {
  /** Spoofed MACs for each kind of request. */
  dora: number;
  selecting?: number;
  initReboot?: number;
  /** The server (its id goes into SELECTING requests). */
  serverIp: string;
  /** Pool addresses asked for by SELECTING and INIT-REBOOT requests: [first, last]. */
  pool: [string, string];
  /** Packets per second (default 5000). */
  rate?: number;
  /** How long to wait for replies after the last send (ms, default 1500). */
  drainMs?: number;
  serverPort?: number;
  clientPort?: number;
}

export interface FloodResult {
  sent: number;
  offers: number;
  /** ACKs by the kind of request they answered. */
  acks: { dora: number; selecting: number; initReboot: number };
  naks: number;
  /** Addresses ACKed to spoofed MACs. */
  bound: string[];
}

type Kind = 'dora' | 'selecting' | 'initReboot';

const spoofed = (kind: number, i: number) => `02:f1:${kind.toString(16).padStart(2, '0')}:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

function packet(type: number, xid: number, mac: string, opts: Array<[number, Buffer]>): Buffer {
  const m = emptyMessage(BOOTREQUEST);
  m.xid = xid;
  m.flags = FLAG_BROADCAST;
  macToBuffer(mac).copy(m.chaddr);
  m.options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, u8(type)], ...opts]);
  return encode(m);
}

export async function runFlood(o: FloodOptions): Promise<FloodResult> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: '0.0.0.0', port: o.clientPort ?? CLIENT_PORT }, () => resolve());
  });
  sock.setBroadcast(true);
  sock.on('error', () => undefined);
  const port = o.serverPort ?? SERVER_PORT;
  const send = (b: Buffer) => sock.send(b, port, '255.255.255.255');
  const [lo, hi] = o.pool.map((a) => parseIp4(a)!) as [number, number];
  const poolAddr = (i: number) => formatIp4(lo + (i % (hi - lo + 1)));
  const result: FloodResult = { sent: 0, offers: 0, acks: { dora: 0, selecting: 0, initReboot: 0 }, naks: 0, bound: [] };
  const byXid = new Map<number, { kind: Kind; mac: string }>();

  sock.on('message', (buf) => {
    let r;
    try {
      r = decode(buf);
    } catch {
      return;
    }
    const who = byXid.get(r.xid);
    if (!who) return;
    const type = getU8(r.options, Opt.MESSAGE_TYPE);
    if (type === MsgType.OFFER && who.kind === 'dora') {
      result.offers++;
      send(packet(MsgType.REQUEST, r.xid, who.mac, [[Opt.SERVER_ID, ip(getIp(r.options, Opt.SERVER_ID) ?? o.serverIp)], [Opt.REQUESTED_IP, ip(r.yiaddr)]]));
      result.sent++;
    } else if (type === MsgType.ACK) {
      result.acks[who.kind]++;
      result.bound.push(r.yiaddr);
    } else if (type === MsgType.NAK) {
      result.naks++;
    }
  });

  const plan: Array<{ kind: Kind; i: number }> = [];
  const counts: Array<[Kind, number]> = [['dora', o.dora], ['selecting', o.selecting ?? 0], ['initReboot', o.initReboot ?? 0]];
  const longest = Math.max(...counts.map(([, n]) => n));
  // Interleave the kinds, so each meets the server's limits in the same state.
  for (let i = 0; i < longest; i++) for (const [kind, n] of counts) if (i < n) plan.push({ kind, i });
  const rate = o.rate ?? 5000;
  const t0 = performance.now();
  for (const [k, step] of plan.entries()) {
    const kindNo = step.kind === 'dora' ? 1 : step.kind === 'selecting' ? 2 : 3;
    const mac = spoofed(kindNo, step.i);
    const xid = ((kindNo << 24) | step.i) >>> 0;
    byXid.set(xid, { kind: step.kind, mac });
    if (step.kind === 'dora') send(packet(MsgType.DISCOVER, xid, mac, []));
    else if (step.kind === 'selecting') send(packet(MsgType.REQUEST, xid, mac, [[Opt.SERVER_ID, ip(o.serverIp)], [Opt.REQUESTED_IP, ip(poolAddr(step.i))]]));
    else send(packet(MsgType.REQUEST, xid, mac, [[Opt.REQUESTED_IP, ip(poolAddr(step.i))]]));
    result.sent++;
    // Pace: every 50 packets, wait until the schedule catches up.
    if (k % 50 === 49) {
      const due = t0 + ((k + 1) / rate) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  }
  await new Promise((r) => setTimeout(r, o.drainMs ?? 1500));
  await new Promise<void>((r) => sock.close(() => r()));
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runFlood(JSON.parse(process.argv[2] ?? '{}') as FloodOptions);
  console.log(`RESULT ${JSON.stringify(r)}`);
}
