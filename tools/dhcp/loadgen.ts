// A DHCP load generator acting as a relay: full DORA exchanges (DISCOVER, OFFER,
// REQUEST, ACK) for many MACs, with giaddr set to its own address so any server
// answers it by unicast on the relay port. Used by bench/dhcp.ts and the tests.
import dgram from 'node:dgram';
import { macToBuffer, parseIp4, formatIp4 } from '../../cluster/addr.js';
import { BOOTREPLY, BOOTREQUEST, ETHERNET_HLEN, HTYPE_ETHERNET, MAGIC_COOKIE, MsgType, Opt, SERVER_PORT } from '../../pxe/dhcp/constants.js';

export interface LoadOptions {
  /** The DHCP server under test. */
  server: { address: string; port?: number };
  /** Our address: the socket binds it and it goes into giaddr. */
  relayAddress: string;
  /** The port replies come to (67 for real servers). */
  relayPort?: number;
  macs: string[];
  /** Exchanges in flight at once. */
  concurrency?: number;
  /** Stop starting exchanges after this long... */
  durationMs?: number;
  /** ...or after this many (whichever comes first). */
  count?: number;
  /** Retransmit after this long without an answer (ms), at most `retries` times. */
  timeoutMs?: number;
  retries?: number;
  createSocket?: () => dgram.Socket;
}

export interface LoadResult {
  exchanges: number;
  naks: number;
  /** Exchanges given up after the retries. */
  failures: number;
  retransmits: number;
  elapsedMs: number;
  /**
   * Exchanges per second over the time exchanges were being started: with
   * `durationMs`, ACKs before the window closed divided by the window, so the
   * drain (stragglers waiting out a retransmit timer) does not count; with only
   * `count`, exchanges over the whole run.
   */
  perSecond: number;
  /** Address each MAC was given in its last ACK. */
  addresses: Map<string, string>;
}

const OPTS_AT = 240;

/** A request with the fixed layout this generator uses: 53, [54, 50], 55, end. */
function buildRequest(type: number, xid: number, mac: Buffer, giaddr: number, serverId?: number, requested?: number): Buffer {
  const b = Buffer.alloc(300);
  b[0] = BOOTREQUEST;
  b[1] = HTYPE_ETHERNET;
  b[2] = ETHERNET_HLEN;
  b[3] = 1; // hops: we are a relay
  b.writeUInt32BE(xid >>> 0, 4);
  b.writeUInt32BE(giaddr, 24);
  mac.copy(b, 28);
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  let i = OPTS_AT;
  b[i++] = Opt.MESSAGE_TYPE;
  b[i++] = 1;
  b[i++] = type;
  if (serverId !== undefined && requested !== undefined) {
    b[i++] = Opt.SERVER_ID;
    b[i++] = 4;
    b.writeUInt32BE(serverId, i);
    i += 4;
    b[i++] = Opt.REQUESTED_IP;
    b[i++] = 4;
    b.writeUInt32BE(requested, i);
    i += 4;
  }
  for (const x of [Opt.PARAM_REQUEST_LIST, 4, Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.HOST_NAME, Opt.END]) b[i++] = x;
  return b;
}

/** Just what the generator needs from a reply: xid, yiaddr, type, server id. */
function peek(b: Buffer): { xid: number; yiaddr: number; type?: number; serverId?: number } | undefined {
  if (b.length < OPTS_AT + 1 || b[0] !== BOOTREPLY || b.readUInt32BE(236) !== MAGIC_COOKIE) return undefined;
  const out: { xid: number; yiaddr: number; type?: number; serverId?: number } = { xid: b.readUInt32BE(4), yiaddr: b.readUInt32BE(16) };
  for (let i = OPTS_AT; i < b.length; ) {
    const code = b[i]!;
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END || i + 1 >= b.length) break;
    const len = b[i + 1]!;
    if (code === Opt.MESSAGE_TYPE && len === 1) out.type = b[i + 2];
    if (code === Opt.SERVER_ID && len === 4 && i + 6 <= b.length) out.serverId = b.readUInt32BE(i + 2);
    i += 2 + len;
  }
  return out;
}

interface Slot {
  mac: string;
  macBuf: Buffer;
  xid: number;
  packet: Buffer;
  sentAt: number;
  tries: number;
  stage: 'discover' | 'request';
}

export async function runDora(opts: LoadOptions): Promise<LoadResult> {
  const sock = opts.createSocket?.() ?? dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const giaddr = parseIp4(opts.relayAddress);
  if (giaddr === undefined) throw new Error(`relayAddress ${opts.relayAddress} is not IPv4`);
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: opts.relayAddress, port: opts.relayPort ?? SERVER_PORT }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  const serverPort = opts.server.port ?? SERVER_PORT;
  const concurrency = Math.max(1, opts.concurrency ?? 64);
  const limit = opts.count ?? Infinity;
  const durationMs = opts.durationMs ?? Infinity;
  const timeoutMs = opts.timeoutMs ?? 500;
  const retries = opts.retries ?? 3;
  const macBufs = opts.macs.map((m) => macToBuffer(m));
  const result: LoadResult = { exchanges: 0, naks: 0, failures: 0, retransmits: 0, elapsedMs: 0, perSecond: 0, addresses: new Map() };
  const inFlight = new Map<number, Slot>();
  let started = 0;
  let nextXid = (Math.random() * 0x7fffffff) >>> 0;
  const t0 = performance.now();
  let stopping = false;
  let windowMs = 0;
  let windowExchanges = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));

  const send = (s: Slot) => {
    s.sentAt = performance.now();
    sock.send(s.packet, serverPort, opts.server.address);
  };
  const startOne = () => {
    if (stopping || started >= limit || performance.now() - t0 >= durationMs) {
      if (!stopping) {
        windowMs = performance.now() - t0;
        windowExchanges = result.exchanges;
      }
      stopping = true;
      if (inFlight.size === 0) finish();
      return;
    }
    const k = started++ % opts.macs.length;
    const xid = (nextXid = (nextXid + 1) >>> 0);
    const s: Slot = { mac: opts.macs[k]!, macBuf: macBufs[k]!, xid, packet: buildRequest(MsgType.DISCOVER, xid, macBufs[k]!, giaddr), sentAt: 0, tries: 0, stage: 'discover' };
    inFlight.set(xid, s);
    send(s);
  };
  const end = (s: Slot) => {
    inFlight.delete(s.xid);
    startOne();
  };

  sock.on('message', (buf) => {
    const r = peek(buf);
    if (!r) return;
    const s = inFlight.get(r.xid);
    if (!s) return;
    if (s.stage === 'discover' && r.type === MsgType.OFFER && r.serverId !== undefined) {
      s.stage = 'request';
      s.tries = 0;
      s.packet = buildRequest(MsgType.REQUEST, s.xid, s.macBuf, giaddr, r.serverId, r.yiaddr);
      send(s);
    } else if (s.stage === 'request' && r.type === MsgType.ACK) {
      result.exchanges++;
      result.addresses.set(s.mac, formatIp4(r.yiaddr));
      end(s);
    } else if (r.type === MsgType.NAK) {
      result.naks++;
      end(s);
    }
  });
  const timer = setInterval(() => {
    const t = performance.now();
    for (const s of [...inFlight.values()]) {
      if (t - s.sentAt < timeoutMs) continue;
      if (s.tries >= retries) {
        result.failures++;
        end(s);
      } else {
        s.tries++;
        result.retransmits++;
        send(s);
      }
    }
    if (stopping && inFlight.size === 0) finish();
  }, Math.max(10, Math.min(100, timeoutMs / 4)));

  for (let i = 0; i < concurrency; i++) startOne();
  await done;
  clearInterval(timer);
  result.elapsedMs = performance.now() - t0;
  result.perSecond = Number.isFinite(durationMs) && windowMs > 0 ? windowExchanges / (windowMs / 1000) : result.exchanges / (result.elapsedMs / 1000);
  await new Promise<void>((r) => sock.close(() => r()));
  return result;
}
