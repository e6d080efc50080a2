// The DHCP/proxyDHCP server: receive, decode, ask the policy, send. Thin: sockets,
// clock, logger and lease persistence come in as options with real defaults.
import dgram from 'node:dgram';
import type { Inventory } from '../../cluster/inventory.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { PXE_PORT, SERVER_PORT } from './constants.js';
import { clientMac, decode, encode, DecodeError, type DhcpMessage } from './packet.js';
import { getU8 } from './options.js';
import { MsgType, Opt } from './constants.js';
import { LeaseTable, loadLeases, saveLeases } from './leases.js';
import { decide, type DhcpEvent, type Outcome, type PolicyConfig } from './policy.js';
import { BROADCAST, maxReplySize } from './reply.js';

export interface DhcpServerOptions {
  /** The current inventory; called per request, so a reload takes effect at once. */
  inventory: () => Inventory;
  serverIp: string;
  httpPort: number;
  /** Bind address (default 0.0.0.0). */
  address?: string;
  /** DHCP server port (default 67). */
  port?: number;
  /** Answer only the PXE part, on `port` and on `pxePort` (4011). */
  proxyDhcp?: boolean;
  pxePort?: number;
  /** Reply ports, for tests on loopback: clients 68, relays 67. */
  clientPort?: number;
  relayPort?: number;
  /** JSON lease table, written atomically (temp + rename) after changes. */
  leaseFile?: string;
  log?: Logger;
  onEvent?: (ev: DhcpEvent) => void;
  now?: () => number;
  createSocket?: () => dgram.Socket;
  /** With several replicas: does this one own pool address n? (pxe/replica/pool.ts) */
  owns?: (n: number) => boolean;
  /** With several replicas: is this one a reserved node's first responder? (policy.ts) */
  answersFirst?: (mac: string) => boolean;
  /** With several replicas: does this one hold the node's image? (policy.ts) */
  canBoot?: PolicyConfig['canBoot'];
  /** Socket receive buffer to ask for, bytes (default 4 MiB): a boot storm arrives as one burst. */
  recvBufferBytes?: number;
  /** Delay before writing the lease file after a change (ms, default 250). */
  saveDelayMs?: number;
}

export interface DhcpStats {
  received: number;
  malformed: number;
  /** Malformed packets by DecodeError reason. */
  malformedBy: Record<string, number>;
  replies: number;
  ignored: number;
  /** Replies that had nowhere to go (a broadcast while bound to loopback). */
  unsendable: number;
  sendErrors: number;
  policyErrors: number;
}

export interface DhcpServer {
  readonly stats: DhcpStats;
  readonly leases: LeaseTable;
  /** Bound ports: [dhcp] or [dhcp, pxe]. */
  readonly ports: number[];
  close(): Promise<void>;
}

/** Unknown-MAC lines: once per MAC per window, and a cap per window overall. */
const UNKNOWN_WINDOW_MS = 10 * 60_000;
const UNKNOWN_LINES_PER_WINDOW = 50;

/** How long, and for how many clients, a DISCOVER's xid is remembered to spot its retries. */
const RETRY_MEMORY_MS = 120_000;
const RETRY_MEMORY_MAX = 50_000;
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

const defaultSocket = () => dgram.createSocket({ type: 'udp4', reuseAddr: true });

export async function startDhcpServer(opts: DhcpServerOptions): Promise<DhcpServer> {
  const log = opts.log ?? silentLogger();
  const now = opts.now ?? Date.now;
  const address = opts.address ?? '0.0.0.0';
  const loopbackOnly = address.startsWith('127.');
  const leases = opts.leaseFile ? await loadLeases(opts.leaseFile) : new LeaseTable();
  const stats: DhcpStats = { received: 0, malformed: 0, malformedBy: {}, replies: 0, ignored: 0, unsendable: 0, sendErrors: 0, policyErrors: 0 };
  const cfg: PolicyConfig = {
    serverIp: opts.serverIp,
    httpPort: opts.httpPort,
    proxyDhcp: opts.proxyDhcp,
    pxePort: opts.pxePort ?? PXE_PORT,
    clientPort: opts.clientPort,
    relayPort: opts.relayPort,
    owns: opts.owns,
    answersFirst: opts.answersFirst,
    canBoot: opts.canBoot,
  };

  // The last DISCOVER xid per MAC, to tell a client's retry from its first try.
  const discovers = new Map<string, { xid: number; at: number }>();
  function isRetransmit(msg: DhcpMessage): boolean {
    if (!opts.answersFirst || getU8(msg.options, Opt.MESSAGE_TYPE) !== MsgType.DISCOVER) return false;
    const mac = clientMac(msg);
    const t = now();
    const prev = discovers.get(mac);
    discovers.set(mac, { xid: msg.xid, at: t });
    if (discovers.size > RETRY_MEMORY_MAX) {
      for (const [k, v] of discovers) if (t - v.at > RETRY_MEMORY_MS) discovers.delete(k);
    }
    return prev !== undefined && prev.xid === msg.xid && t - prev.at < RETRY_MEMORY_MS;
  }

  const unknownSeen = new Map<string, number>();
  let unknownWindowStart = 0;
  let unknownLines = 0;
  function say(o: Outcome): void {
    if (o.unknownMac) {
      const t = now();
      if (t - unknownWindowStart > UNKNOWN_WINDOW_MS) {
        unknownWindowStart = t;
        unknownLines = 0;
        unknownSeen.clear();
      }
      if (unknownSeen.has(o.event.mac) || unknownLines >= UNKNOWN_LINES_PER_WINDOW) return;
      unknownSeen.set(o.event.mac, t);
      unknownLines++;
      log.info(`${o.line} (logged once per MAC per ${UNKNOWN_WINDOW_MS / 60_000} min)`);
      return;
    }
    log[o.level](`dhcp: ${o.line}`);
  }

  // Lease persistence: one pending write at a time, coalescing changes.
  let savedAt = leases.changes;
  let saveTimer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  function scheduleSave(): void {
    if (!opts.leaseFile || saveTimer || leases.changes === savedAt) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      void flush();
    }, opts.saveDelayMs ?? 250);
  }
  function flush(): Promise<void> {
    if (!opts.leaseFile || leases.changes === savedAt) return saving;
    const mark = leases.changes;
    saving = saving
      .then(() => saveLeases(opts.leaseFile!, leases, now()))
      .then(() => {
        savedAt = mark;
      })
      .catch((err) => log.warn(`dhcp: cannot save leases to ${opts.leaseFile}: ${(err as Error).message}`));
    return saving;
  }

  function onMessage(sock: dgram.Socket, localPort: number, buf: Buffer, rinfo: dgram.RemoteInfo): void {
    stats.received++;
    let outcome: Outcome;
    let msg: DhcpMessage;
    try {
      msg = decode(buf);
      outcome = decide({ msg, from: { address: rinfo.address, port: rinfo.port }, localPort, retransmit: isRetransmit(msg) }, opts.inventory(), leases, now(), cfg);
    } catch (err) {
      if (err instanceof DecodeError) {
        stats.malformed++;
        stats.malformedBy[err.reason] = (stats.malformedBy[err.reason] ?? 0) + 1;
      } else {
        stats.policyErrors++;
        log.warn(`dhcp: error handling a packet from ${rinfo.address}:${rinfo.port}: ${(err as Error).stack ?? err}`);
      }
      return;
    }
    say(outcome);
    try {
      if (!outcome.leftToPeer) opts.onEvent?.(outcome.event);
    } catch (err) {
      log.warn(`dhcp: event handler failed: ${(err as Error).message}`);
    }
    scheduleSave();
    if (!outcome.reply) {
      stats.ignored++;
      return;
    }
    const to = outcome.to!;
    // Bound to loopback there is nothing to broadcast to; never let such a reply leave.
    if (loopbackOnly && (to.address === BROADCAST || !to.address.startsWith('127.'))) {
      stats.unsendable++;
      return;
    }
    let out: Buffer;
    try {
      out = encode(outcome.reply, { maxSize: maxReplySize(msg) });
    } catch (err) {
      stats.policyErrors++;
      log.warn(`dhcp: cannot encode reply: ${(err as Error).message}`);
      return;
    }
    stats.replies++;
    sock.send(out, to.port, to.address, (err) => {
      if (err) {
        stats.sendErrors++;
        log.debug(`dhcp: send to ${to.address}:${to.port} failed: ${err.message}`);
      }
    });
  }

  async function open(port: number, bindAddress: string, replyVia?: () => dgram.Socket | undefined): Promise<dgram.Socket> {
    const sock = (opts.createSocket ?? defaultSocket)();
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port, address: bindAddress }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.setBroadcast(true);
    const want = opts.recvBufferBytes ?? RECV_BUFFER_BYTES;
    try {
      sock.setRecvBufferSize(want);
    } catch (err) {
      log.debug(`dhcp: cannot set the receive buffer: ${(err as Error).message}`);
    }
    // Linux reports twice what it grants (bookkeeping); less than asked means net.core.rmem_max capped it.
    const got = sock.getRecvBufferSize() / 2;
    if (got < want) log.warn(`dhcp: receive buffer ${Math.round(got / 1024)} KiB, not the ${want / 1024} KiB asked: a boot storm may lose DISCOVERs (raise it with sysctl -w net.core.rmem_max=${want})`);
    const localPort = sock.address().port;
    sock.on('message', (buf, rinfo) => onMessage(replyVia?.() ?? sock, localPort, buf, rinfo));
    sock.on('error', (err) => log.warn(`dhcp: socket error on ${bindAddress}:${localPort}: ${err.message}`));
    return sock;
  }

  // Replies to 255.255.255.255 need an outgoing interface. A socket bound to
  // 0.0.0.0 has none (no SO_BINDTODEVICE in Node) and fails with ENETUNREACH
  // unless a default route happens to point the right way. Linux sends a limited
  // broadcast out of the interface that owns the socket's source address
  // (route.c "special hack"), so replies go through a second socket bound to
  // serverIp on the same port (SO_REUSEADDR); it also receives unicast RENEWs.
  const socks: dgram.Socket[] = [];
  let sender: dgram.Socket | undefined;
  try {
    const port = opts.port ?? SERVER_PORT;
    const main = await open(port, address, () => sender);
    socks.push(main);
    if (address === '0.0.0.0') {
      try {
        sender = await open(main.address().port, opts.serverIp);
        socks.push(sender);
      } catch (err) {
        log.warn(`dhcp: cannot bind ${opts.serverIp}:${port} for replies (${(err as Error).message}); broadcasts follow the routing table`);
      }
    }
    if (opts.proxyDhcp) socks.push(await open(opts.pxePort ?? PXE_PORT, address));
  } catch (err) {
    for (const s of socks) s.close();
    throw err;
  }
  const ports = [...new Set(socks.map((s) => s.address().port))];
  log.info(`dhcp: ${opts.proxyDhcp ? 'proxyDHCP' : 'DHCP'} listening on ${address}:${ports.join(',')} as ${opts.serverIp}`);

  return {
    stats,
    leases,
    ports,
    async close() {
      if (saveTimer) clearTimeout(saveTimer);
      saveTimer = undefined;
      await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await flush();
    },
  };
}
