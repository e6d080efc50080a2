// The DHCP/proxyDHCP server: receive, decode, ask the policy, send. Thin: sockets,
// clock, logger and lease persistence come in as options with real defaults.
import type dgram from 'node:dgram';
import type { Inventory } from '../../cluster/inventory.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { PXE_PORT } from './constants.js';
import { clientMac, decode, encode, DecodeError, type DhcpMessage } from './packet.js';
import { getU8 } from './options.js';
import { MsgType, Opt } from './constants.js';
import { LeaseTable, loadLeases } from './leases.js';
import { LeaseSaver } from './lease-saver.js';
import { LogLimiter } from './log-limiter.js';
import { RetryMemory } from './retry-memory.js';
import { RateLimits, sourceKey, type DhcpLimits } from './limits.js';
import { decide, type DhcpEvent, type Outcome, type PolicyConfig } from './policy.js';
import { BROADCAST, maxReplySize } from './reply.js';
import { openSockets } from './sockets.js';

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
  /** Does this replica serve TFTP (default yes)? Without, PXE clients that need it get no answer here. */
  tftp?: boolean;
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
  /** Rate limits per MAC and per source (limits.ts DEFAULT_LIMITS); `false` turns them off. */
  limits?: Partial<DhcpLimits> | false;
}

/** A reserved address its node declined: another host holds it. Kept for /status until the node is ACKed again. */
export interface AddressConflict {
  node?: string;
  mac: string;
  ip: string;
  /** Epoch ms of the latest DECLINE. */
  at: number;
  count: number;
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
  /** Packets dropped by a rate limit (limits.ts), by the limit. */
  limited: { mac: number; source: number };
}

export interface DhcpServer {
  readonly stats: DhcpStats;
  readonly leases: LeaseTable;
  /** Bound ports: [dhcp] or [dhcp, pxe]. */
  readonly ports: number[];
  /** Reserved addresses declined by their nodes and not since ACKed: for /status. */
  conflicts(): AddressConflict[];
  close(): Promise<void>;
}

/** Unknown-MAC lines: once per MAC per window, and a cap per window overall. */
const UNKNOWN_WINDOW_MS = 10 * 60_000;
const UNKNOWN_LINES_PER_WINDOW = 50;

export async function startDhcpServer(opts: DhcpServerOptions): Promise<DhcpServer> {
  const log = opts.log ?? silentLogger();
  const address = opts.address ?? '0.0.0.0';
  const leases = opts.leaseFile ? await loadLeases(opts.leaseFile, { log }) : new LeaseTable();
  const saver = opts.leaseFile ? new LeaseSaver({ file: opts.leaseFile, table: leases, delayMs: opts.saveDelayMs ?? 250, now: opts.now ?? Date.now, log }) : undefined;
  const handler = new Responder(opts, leases, log, address.startsWith('127.'), saver);
  const socks = await openSockets({ ...opts, address, log }, (sock, localPort, buf, rinfo) => handler.onDatagram(sock, localPort, buf, rinfo));
  const ports = [...new Set(socks.map((s) => s.address().port))];
  log.info(`dhcp: ${opts.proxyDhcp ? 'proxyDHCP' : 'DHCP'} listening on ${address}:${ports.join(',')} as ${opts.serverIp}`);

  return {
    stats: handler.stats,
    leases,
    ports,
    conflicts: () => [...handler.conflicts.values()],
    async close() {
      saver?.cancel();
      await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await saver?.flush();
    },
  };
}

/** One datagram in: decode, ask the policy, log and report, save leases, send the reply. */
class Responder {
  readonly stats: DhcpStats = { received: 0, malformed: 0, malformedBy: {}, replies: 0, ignored: 0, unsendable: 0, sendErrors: 0, policyErrors: 0, limited: { mac: 0, source: 0 } };
  /** By MAC. */
  readonly conflicts = new Map<string, AddressConflict>();
  private readonly cfg: PolicyConfig;
  private readonly now: () => number;
  /** Only a replica that may stay silent on a first DISCOVER needs to spot retries. */
  private readonly retries: RetryMemory | undefined;
  private readonly unknownLog = new LogLimiter(UNKNOWN_WINDOW_MS, UNKNOWN_LINES_PER_WINDOW);
  private readonly relayLog = new LogLimiter(UNKNOWN_WINDOW_MS, UNKNOWN_LINES_PER_WINDOW);
  private readonly limitLog = new LogLimiter(UNKNOWN_WINDOW_MS, UNKNOWN_LINES_PER_WINDOW);
  private readonly limits: RateLimits | undefined;

  constructor(
    private readonly opts: DhcpServerOptions,
    private readonly leases: LeaseTable,
    private readonly log: Logger,
    /** Bound to loopback: there is nothing to broadcast to. */
    private readonly loopbackOnly: boolean,
    private readonly saver: LeaseSaver | undefined,
  ) {
    this.now = opts.now ?? Date.now;
    this.retries = opts.answersFirst ? new RetryMemory() : undefined;
    this.limits = opts.limits === false ? undefined : new RateLimits(opts.limits);
    this.cfg = {
      serverIp: opts.serverIp,
      httpPort: opts.httpPort,
      proxyDhcp: opts.proxyDhcp,
      tftp: opts.tftp,
      pxePort: opts.pxePort ?? PXE_PORT,
      clientPort: opts.clientPort,
      relayPort: opts.relayPort,
      owns: opts.owns,
      answersFirst: opts.answersFirst,
      canBoot: opts.canBoot,
    };
  }

  onDatagram(sock: dgram.Socket, localPort: number, buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.stats.received++;
    const decided = this.decide(localPort, buf, rinfo);
    if (!decided) return;
    const { msg, outcome } = decided;
    // A line kept back by a log limit keeps its boot event back too: a flood is not printed twice.
    const said = this.say(outcome);
    this.noteConflict(outcome);
    try {
      if (!outcome.leftToPeer && said) this.opts.onEvent?.(outcome.event);
    } catch (err) {
      this.log.warn(`dhcp: event handler failed: ${(err as Error).message}`);
    }
    this.saver?.schedule();
    if (!outcome.reply) {
      this.stats.ignored++;
      return;
    }
    this.send(sock, msg, outcome);
  }

  private decide(localPort: number, buf: Buffer, rinfo: dgram.RemoteInfo): { msg: DhcpMessage; outcome: Outcome } | undefined {
    const { stats } = this;
    try {
      const msg = decode(buf);
      const inv = this.opts.inventory();
      const now = this.now();
      const source = sourceKey(msg.giaddr, rinfo.address);
      if (this.limited(msg, inv, source, now)) return undefined;
      const newAddress = this.limits ? () => this.limits!.newAddress(source, now) : undefined;
      const req = { msg, from: { address: rinfo.address, port: rinfo.port }, localPort, retransmit: this.isRetransmit(msg), newAddress };
      return { msg, outcome: decide(req, inv, this.leases, now, this.cfg) };
    } catch (err) {
      if (err instanceof DecodeError) {
        stats.malformed++;
        stats.malformedBy[err.reason] = (stats.malformedBy[err.reason] ?? 0) + 1;
      } else {
        stats.policyErrors++;
        this.log.warn(`dhcp: error handling a packet from ${rinfo.address}:${rinfo.port}: ${(err as Error).stack ?? err}`);
      }
      return undefined;
    }
  }

  /** Over a rate limit: counted, logged once per source per window, dropped before the policy. */
  private limited(msg: DhcpMessage, inv: Inventory, source: string, now: number): boolean {
    if (!this.limits) return false;
    const mac = clientMac(msg);
    const known = inv.byMac.has(mac) || this.leases.ofMac(mac) !== undefined;
    const by = this.limits.admit(mac, source, known, now);
    if (!by) return false;
    this.stats.limited[by]++;
    const who = by === 'mac' ? `client ${mac}` : source === '0.0.0.0' ? 'the unconfigured clients of this segment (source 0.0.0.0)' : `source ${source}`;
    if (this.limitLog.allow(`${by} ${by === 'mac' ? mac : source}`, now)) {
      this.log.warn(`dhcp: rate limit per ${by} reached by ${who}; dropping its packets for now (logged once per ${by} per ${UNKNOWN_WINDOW_MS / 60_000} min)`);
    }
    return true;
  }

  /** A reserved address declined by its node stays listed until the node is ACKed again. */
  private noteConflict(o: Outcome): void {
    const e = o.event;
    if (e.type === 'ack') this.conflicts.delete(e.mac);
    if (e.type !== 'conflict' || !e.ip) return;
    const prev = this.conflicts.get(e.mac);
    this.conflicts.set(e.mac, { node: e.node, mac: e.mac, ip: e.ip, at: this.now(), count: (prev?.count ?? 0) + 1 });
  }

  private isRetransmit(msg: DhcpMessage): boolean {
    if (!this.retries || getU8(msg.options, Opt.MESSAGE_TYPE) !== MsgType.DISCOVER) return false;
    return this.retries.isRetry(clientMac(msg), msg.xid, this.now());
  }

  /** Log the outcome's line; false when a log limit kept it back. */
  private say(o: Outcome): boolean {
    if (o.unlistedRelay) {
      const ok = this.relayLog.allow(o.unlistedRelay, this.now());
      if (ok) this.log.warn(`dhcp: ${o.line} (logged once per relay per ${UNKNOWN_WINDOW_MS / 60_000} min)`);
      return ok;
    }
    if (!o.unknownMac) {
      this.log[o.level](`dhcp: ${o.line}`);
      return true;
    }
    const ok = this.unknownLog.allow(o.event.mac, this.now());
    if (ok) this.log.info(`${o.line} (logged once per MAC per ${UNKNOWN_WINDOW_MS / 60_000} min)`);
    return ok;
  }

  private send(sock: dgram.Socket, msg: DhcpMessage, outcome: Outcome): void {
    const { stats, log } = this;
    const to = outcome.to!;
    // Bound to loopback there is nothing to broadcast to; never let such a reply leave.
    if (this.loopbackOnly && (to.address === BROADCAST || !to.address.startsWith('127.'))) {
      stats.unsendable++;
      return;
    }
    let out: Buffer;
    try {
      out = encode(outcome.reply!, { maxSize: maxReplySize(msg) });
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
}
