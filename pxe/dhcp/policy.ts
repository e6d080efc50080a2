// The DHCP reply policy: one request in, one reply (or none) out, decided from the
// inventory, the lease table and the time. Pure apart from updating the lease
// table it is given (and spending the request's new-address budget, limits.ts); no
// sockets, timers or logging (the outcome carries the line).
import { formatIp4, parseIp4 } from '../../cluster/addr.js';
import { networkFor, type Inventory, type InventoryNode, type Network } from '../../cluster/inventory.js';
import { BOOTREQUEST, HTYPE_ETHERNET, MSG_TYPE_NAMES, MsgType, Opt, PXE_PORT, ARCH_NAMES } from './constants.js';
import { bootOptions, chooseBoot, classify, type BootChoice, type ClientKind } from './boot.js';
import { LeaseTable } from './leases.js';
import { clientMac, type DhcpMessage } from './packet.js';
import { getIp, getU8, ip, ips, text, u32 } from './options.js';
import { applyBoot, destination, orderOptions, replyHeader, ZERO, type Endpoint, type Ports } from './reply.js';

/** RFC 2131 4.3.1: hold an offered pool address this long for the client's REQUEST. */
export const OFFER_HOLD_MS = 60_000;
/** RFC 2131 4.3.3: a declined address is kept out of the pool this long. */
export const DECLINE_QUARANTINE_MS = 10 * 60_000;

export interface PolicyConfig extends Ports {
  /** This server's address: server identifier (54), next-server, URLs. */
  serverIp: string;
  httpPort: number;
  /** Answer only the PXE part, for networks where another server gives addresses. */
  proxyDhcp?: boolean;
  /** The PXE boot server discovery port the server listens on (4011). */
  pxePort?: number;
  /** Does this replica serve TFTP? Default yes; without, PXE clients that need it are left to one that does. */
  tftp?: boolean;
  /** With several replicas: does this one own pool address n (pxe/replica/pool.ts)? Default: all. */
  owns?: (n: number) => boolean;
  /**
   * With several replicas: is this one a reserved node's first responder (pxe/replica/pool.ts)?
   * The others do not answer its first DISCOVER, only once it has waited. Default: all are.
   */
  answersFirst?: (mac: string) => boolean;
  /**
   * With several replicas: can this one boot the node now (does it hold the node's image)?
   * When not, it does not answer, and a replica that holds the image does. Default: yes.
   */
  canBoot?: (node: InventoryNode) => boolean;
}

/** A DISCOVER whose `secs` is at least this comes from a client that has waited: every replica answers. */
export const SECONDARY_AFTER_SECS = 2;

export interface Incoming {
  msg: DhcpMessage;
  /** Source of the datagram. */
  from: Endpoint;
  /** Local port it arrived on (67, or 4011 for proxyDHCP REQUESTs). */
  localPort: number;
  /** The server has seen this DISCOVER (same MAC and xid) before: the client is retrying. */
  retransmit?: boolean;
  /**
   * May this request take a new pool address (for a client with no record)? Counts it
   * if so (limits.ts, per source). Default: always.
   */
  newAddress?: () => boolean;
}

/** `conflict`: a reserved address declined by its node (another host holds it); an administrator must act. */
export type DhcpEventType = 'offer' | 'ack' | 'nak' | 'release' | 'decline' | 'conflict' | 'inform' | 'ignored';

export interface DhcpEvent {
  kind: 'dhcp';
  mac: string;
  node?: string;
  type: DhcpEventType;
  ip?: string;
  arch?: number;
  ipxe?: boolean;
  bootfile?: string;
  detail?: string;
}

export interface Outcome {
  reply: DhcpMessage | null;
  to?: Endpoint;
  event: DhcpEvent;
  level: 'info' | 'warn' | 'debug';
  line: string;
  /** The client is not in the inventory and there is no pool: the server rate-limits these lines. */
  unknownMac?: boolean;
  /** Relayed by a host not in the subnet's `relays:`: the server rate-limits these lines. */
  unlistedRelay?: string;
  /** Left to another replica (it answers first, or holds the image): no boot event, only a debug line. */
  leftToPeer?: boolean;
}

interface Ctx {
  req: Incoming;
  msg: DhcpMessage;
  inv: Inventory;
  leases: LeaseTable;
  now: number;
  cfg: PolicyConfig;
  mac: string;
  node?: InventoryNode;
  net: Network;
  kind: ClientKind;
  boot: BootChoice;
}

export function decide(req: Incoming, inv: Inventory, leases: LeaseTable, now: number, cfg: PolicyConfig): Outcome {
  const msg = req.msg;
  const mac = clientMac(msg);
  const ignore = (detail: string, extra: Partial<Outcome> = {}): Outcome => ({
    reply: null,
    event: { kind: 'dhcp', mac, node: inv.byMac.get(mac)?.name, type: 'ignored', detail },
    level: 'debug',
    line: `${who(inv.byMac.get(mac), mac)} ignored: ${detail}`,
    ...extra,
  });
  if (msg.op !== BOOTREQUEST) return ignore('not a BOOTREQUEST');
  if (msg.htype !== HTYPE_ETHERNET) return ignore(`hardware type ${msg.htype} is not Ethernet`);
  const type = getU8(msg.options, Opt.MESSAGE_TYPE);
  if (type === undefined) return ignore('plain BOOTP (no option 53) is not served');

  // RFC 2131 4.3.1: the subnet is the relay's (giaddr) or the one we are on.
  let net: Network | undefined;
  if (msg.giaddr !== ZERO) {
    net = networkFor(inv, parseIp4(msg.giaddr)!);
    if (!net) return ignore(`relay ${msg.giaddr} is in no subnet of the inventory`);
    // giaddr is the sender's word; only relays the inventory lists may speak for a subnet.
    if (!net.relays.includes(req.from.address)) {
      return ignore(`relayed (giaddr ${msg.giaddr}) by ${req.from.address}, which is not in the relays: of ${net.subnetText}; add it there to serve its clients`, { unlistedRelay: req.from.address, level: 'warn' });
    }
  } else {
    net = networkFor(inv, parseIp4(cfg.serverIp) ?? 0) ?? inv.networks[0];
    if (!net) return ignore('the inventory has no network');
  }
  const node = inv.byMac.get(mac);
  if (node && node.network.subnetText !== net.subnetText) return ignore(`reserved ${node.ip} is not on the request's subnet ${net.subnetText}`);
  if (!node && !net.pool) return ignore('unknown MAC and no pool', { unknownMac: true });

  const kind = classify(msg.options);
  const boot = chooseBoot(kind, mac, cfg, node);
  // No TFTP here for a client that needs it (a replica with TFTP answers), or a uefi-http node's PXE attempt.
  if (boot.silent) return ignore(boot.note ?? 'no boot file for this client here', cfg.tftp === false ? { leftToPeer: true } : { level: 'info' });
  const c: Ctx = { req, msg, inv, leases, now, cfg, mac, node, net, kind, boot };
  if (cfg.proxyDhcp) return proxy(c, type);
  switch (type) {
    case MsgType.DISCOVER:
      // Replicas split the first answer to reserved nodes by MAC, so a storm costs each a
      // share; a client that retries (same xid again, or secs grown) gets every replica.
      if (node && cfg.canBoot && !cfg.canBoot(node)) {
        return ignore(`image ${node.image} is not on this replica yet; a replica that holds it answers`, { leftToPeer: true });
      }
      if (node && cfg.answersFirst && !req.retransmit && msg.secs < SECONDARY_AFTER_SECS && !cfg.answersFirst(mac)) {
        return ignore('another replica answers this node first; this one answers if it retries', { leftToPeer: true });
      }
      return discover(c);
    case MsgType.REQUEST:
      return request(c);
    case MsgType.DECLINE:
      return decline(c);
    case MsgType.RELEASE:
      return release(c);
    case MsgType.INFORM:
      return inform(c);
    default:
      return ignore(`message type ${MSG_TYPE_NAMES[type] ?? type} is not for a server`);
  }
}

const who = (node: InventoryNode | undefined, mac: string) => (node ? `${node.name} (${mac})` : mac);

// ---- addresses ----------------------------------------------------------------

/** Addresses a pool never hands out: network, broadcast, ours, routers, DNS, replicas. */
function excluded(c: Ctx): (n: number) => boolean {
  const skip = new Set<number>([c.net.subnet.network, c.net.subnet.broadcast]);
  for (const a of [c.cfg.serverIp, c.net.router, ...c.net.dns, ...c.inv.servers]) {
    const n = a ? parseIp4(a) : undefined;
    if (n !== undefined) skip.add(n);
  }
  return (n) => skip.has(n) || (c.cfg.owns !== undefined && !c.cfg.owns(n));
}

/** A pool address another live replica owns: that replica answers, we stay silent (no NAK). */
function ownedElsewhere(c: Ctx, addr: string | undefined): boolean {
  const n = addr ? parseIp4(addr) : undefined;
  const pool = c.net.pool;
  return !c.node && !!c.cfg.owns && n !== undefined && !!pool && n >= pool.start && n <= pool.end && !c.cfg.owns(n);
}

/** Would we give `addr` to this client? (RFC 2131 4.3.2: else NAK.) */
function acceptable(c: Ctx, addr: string | undefined): boolean {
  if (!addr) return false;
  if (c.node) return addr === c.node.ip;
  const n = parseIp4(addr);
  const pool = c.net.pool;
  if (n === undefined || !pool || n < pool.start || n > pool.end || excluded(c)(n)) return false;
  return c.leases.isFreeFor(n, c.mac, c.now);
}

/** RFC 2131 4.3.1: the reservation; else the client's previous address; else the one it asks for; else a free one. */
function addressFor(c: Ctx): string | undefined {
  if (c.node) return c.node.ip;
  const prev = c.leases.ofMac(c.mac);
  if (prev && acceptable(c, prev.ip)) return prev.ip;
  const asked = getIp(c.msg.options, Opt.REQUESTED_IP);
  if (asked && acceptable(c, asked)) return asked;
  const pool = c.net.pool!;
  const n = c.leases.findFree(pool.start, pool.end, c.mac, c.now, excluded(c));
  return n === undefined ? undefined : formatIp4(n);
}

// ---- replies ----------------------------------------------------------------------

function networkOptions(c: Ctx, withLease: boolean): Array<[number, Buffer]> {
  const o: Array<[number, Buffer]> = [[Opt.SUBNET_MASK, u32(c.net.subnet.mask)]];
  if (c.net.router) o.push([Opt.ROUTER, ip(c.net.router)]);
  if (c.net.dns.length) o.push([Opt.DNS, ips(c.net.dns)]);
  if (c.node) o.push([Opt.HOST_NAME, text(c.node.name)]);
  if (c.net.domain) o.push([Opt.DOMAIN_NAME, text(c.net.domain)]);
  if (withLease) {
    // RFC 2131 4.4.5: T1 defaults to half the lease, T2 to 7/8 of it.
    const t = c.net.leaseTime;
    o.push([Opt.LEASE_TIME, u32(t)], [Opt.RENEWAL_TIME, u32(Math.floor(t / 2))], [Opt.REBINDING_TIME, u32(Math.floor((t * 7) / 8))]);
  }
  return o;
}

interface Built {
  reply: DhcpMessage;
  boot: BootChoice;
}

function build(c: Ctx, type: number, yiaddr: string, opts: Array<[number, Buffer]>): Built {
  const r = replyHeader(c.msg, type, yiaddr, ZERO);
  const boot = c.boot;
  const all = [...opts, ...applyBoot(r, boot, c.cfg.serverIp), ...bootOptions(c.kind, c.msg.options)];
  r.options = orderOptions(type, c.cfg.serverIp, all, c.msg);
  return { reply: r, boot };
}

function answer(c: Ctx, evType: DhcpEventType, b: Built, addr: string | undefined, to: Endpoint, note = ''): Outcome {
  const arch = c.kind.archGiven ? c.kind.arch : undefined;
  const archText = arch !== undefined ? ` arch=${ARCH_NAMES[arch] ?? arch}` : '';
  const bootText = b.boot.file ? ` boot=${b.boot.file}` : b.boot.note ? ` (${b.boot.note})` : '';
  return {
    reply: b.reply,
    to,
    event: { kind: 'dhcp', mac: c.mac, node: c.node?.name, type: evType, ip: addr, arch, ipxe: c.kind.ipxe, bootfile: b.boot.file, detail: note || undefined },
    level: 'info',
    line: `${who(c.node, c.mac)} ${evType.toUpperCase()}${addr ? ` ${addr}` : ''}${archText}${c.kind.ipxe ? ' ipxe' : ''}${bootText}${note ? ` (${note})` : ''} -> ${to.address}:${to.port}`,
  };
}

function nak(c: Ctx, why: string): Outcome {
  const r = replyHeader(c.msg, MsgType.NAK, ZERO, ZERO);
  r.options = orderOptions(MsgType.NAK, c.cfg.serverIp, [[Opt.MESSAGE, text(why)]], c.msg);
  const to = destination(c.msg, MsgType.NAK, c.cfg);
  return {
    reply: r,
    to,
    event: { kind: 'dhcp', mac: c.mac, node: c.node?.name, type: 'nak', detail: why },
    level: 'info',
    line: `${who(c.node, c.mac)} NAK (${why}) -> ${to.address}:${to.port}`,
  };
}

/** No reply, only an event and a log line (ignored, DECLINE, RELEASE). */
function noReply(c: Ctx, type: DhcpEventType, level: Outcome['level'], detail: string, addr?: string): Outcome {
  return {
    reply: null,
    event: { kind: 'dhcp', mac: c.mac, node: c.node?.name, type, ip: addr, detail },
    level,
    line: `${who(c.node, c.mac)} ${type === 'ignored' ? 'ignored' : type.toUpperCase()}${addr ? ` ${addr}` : ''}: ${detail}`,
  };
}

// ---- messages -------------------------------------------------------------------

/** RFC 2131 4.3.1. No ping before offering: it costs seconds per new client. */
function discover(c: Ctx): Outcome {
  const addr = addressFor(c);
  if (!addr) {
    const p = c.net.pool!;
    return noReply(c, 'ignored', 'warn', `pool ${formatIp4(p.start)}-${formatIp4(p.end)} of ${c.net.subnetText} is exhausted, no offer`);
  }
  if (!c.node && !c.leases.at(parseIp4(addr)!, c.now) && c.req.newAddress && !c.req.newAddress()) {
    return noReply(c, 'ignored', 'debug', `new pool addresses from this source are rate-limited; not offering ${addr}`);
  }
  if (!c.node) {
    const held = c.leases.ofMac(c.mac);
    const keep = held && held.ip === addr && held.state === 'bound' && held.expires > c.now + OFFER_HOLD_MS;
    if (!keep) c.leases.put({ ip: addr, mac: c.mac, state: 'offered', expires: c.now + OFFER_HOLD_MS });
  }
  const b = build(c, MsgType.OFFER, addr, networkOptions(c, true));
  return answer(c, 'offer', b, addr, destination(c.msg, MsgType.OFFER, c.cfg));
}

/** RFC 2131 4.3.2: SELECTING, INIT-REBOOT, RENEWING, REBINDING. */
function request(c: Ctx): Outcome {
  const serverId = getIp(c.msg.options, Opt.SERVER_ID);
  const asked = getIp(c.msg.options, Opt.REQUESTED_IP);
  const ciaddr = c.msg.ciaddr !== ZERO ? c.msg.ciaddr : undefined;
  let addr: string | undefined;
  let state: string;
  if (serverId !== undefined) {
    // SELECTING: a REQUEST naming another server means our offer was declined.
    if (serverId !== c.cfg.serverIp) {
      const held = c.leases.ofMac(c.mac);
      if (!c.node && held?.state === 'offered') c.leases.remove(parseIp4(held.ip)!);
      return noReply(c, 'ignored', 'debug', `client chose server ${serverId}; offer withdrawn`);
    }
    state = 'SELECTING';
    addr = asked ?? ciaddr;
  } else if (asked !== undefined && !ciaddr) {
    // RFC 2131 4.3.2: "If the DHCP server has no record of this client, then it MUST remain silent."
    if (!c.node && !c.leases.ofMac(c.mac)) return noReply(c, 'ignored', 'debug', `INIT-REBOOT for ${asked} from a client with no lease or reservation`);
    state = 'INIT-REBOOT';
    addr = asked;
  } else if (ciaddr) {
    // RENEWING is unicast to us, REBINDING broadcast; both carry ciaddr and are answered alike.
    state = 'RENEW/REBIND';
    addr = ciaddr;
  } else {
    return noReply(c, 'ignored', 'debug', 'REQUEST with no server id, requested address or ciaddr');
  }
  if (ownedElsewhere(c, addr)) return noReply(c, 'ignored', 'debug', `${state}: ${addr} belongs to another replica's share of the pool`);
  if (!acceptable(c, addr)) return nak(c, `${state}: ${addr ?? 'no address'} is not ${c.node ? `${c.node.name}'s address ${c.node.ip}` : 'free for this client'}`);
  // A client with no lease taking a free address (no offer seen) spends the source's budget.
  if (!c.node && !c.leases.at(parseIp4(addr!)!, c.now) && c.req.newAddress && !c.req.newAddress()) {
    return noReply(c, 'ignored', 'debug', `${state}: new pool addresses from this source are rate-limited; not binding ${addr}`);
  }
  if (!c.node) c.leases.put({ ip: addr!, mac: c.mac, state: 'bound', expires: c.now + c.net.leaseTime * 1000 });
  const b = build(c, MsgType.ACK, addr!, networkOptions(c, true));
  return answer(c, 'ack', b, addr, destination(c.msg, MsgType.ACK, c.cfg), state);
}

/** RFC 2131 4.3.3: the client found the address in use; keep it out of the pool. */
function decline(c: Ctx): Outcome {
  const serverId = getIp(c.msg.options, Opt.SERVER_ID);
  if (serverId !== undefined && serverId !== c.cfg.serverIp) return noReply(c, 'ignored', 'debug', `DECLINE for server ${serverId}`);
  const addr = getIp(c.msg.options, Opt.REQUESTED_IP);
  if (!addr) return noReply(c, 'ignored', 'debug', 'DECLINE without a requested address');
  const n = parseIp4(addr)!;
  if (c.node && addr === c.node.ip) {
    return noReply(c, 'conflict', 'warn', `reserved address is in use by another host; find it and take it off (the reservation stays)`, addr);
  }
  const pool = c.net.pool;
  // Only the client the address was offered or bound to may decline it, so spoofed
  // DECLINEs cannot quarantine the whole pool.
  const held = c.leases.at(n, c.now);
  if (pool && n >= pool.start && n <= pool.end && held?.mac === c.mac) {
    c.leases.put({ ip: addr, mac: '', state: 'declined', expires: c.now + DECLINE_QUARANTINE_MS });
    return noReply(c, 'decline', 'warn', `address is in use by another host; quarantined for ${DECLINE_QUARANTINE_MS / 1000} s`, addr);
  }
  return noReply(c, 'ignored', 'debug', `DECLINE of ${addr}, which is not this client's`);
}

/** RFC 2131 4.3.4: the client gives its address back. */
function release(c: Ctx): Outcome {
  const addr = c.msg.ciaddr;
  const n = parseIp4(addr)!;
  const held = c.leases.at(n, c.now);
  if (!c.node && held && held.mac === c.mac) {
    c.leases.remove(n);
    return noReply(c, 'release', 'info', 'lease freed', addr);
  }
  return noReply(c, 'release', 'info', c.node ? 'reserved address stays reserved' : 'no lease held', addr);
}

/** RFC 2131 4.3.5: configuration only: no yiaddr, no lease time. */
function inform(c: Ctx): Outcome {
  const b = build(c, MsgType.ACK, ZERO, networkOptions(c, false));
  return answer(c, 'inform', b, c.msg.ciaddr !== ZERO ? c.msg.ciaddr : undefined, destination(c.msg, MsgType.ACK, c.cfg));
}

/**
 * proxyDHCP (PXE 2.1 2.2.5-2.2.6): another server gives addresses; we answer
 * DISCOVERs on 67 with the boot part only, and REQUESTs on 4011 with an ACK
 * unicast to where they came from.
 */
function proxy(c: Ctx, type: number): Outcome {
  if (!c.kind.pxe && !c.kind.http) return noReply(c, 'ignored', 'debug', 'proxyDHCP answers only PXE clients');
  const pxePort = c.cfg.pxePort ?? PXE_PORT;
  if (c.req.localPort === pxePort) {
    if (type !== MsgType.REQUEST && type !== MsgType.INFORM) return noReply(c, 'ignored', 'debug', 'only REQUESTs are answered on the PXE port');
    const b = build(c, MsgType.ACK, ZERO, []);
    return answer(c, 'ack', b, undefined, { ...c.req.from }, 'proxyDHCP');
  }
  if (type !== MsgType.DISCOVER) return noReply(c, 'ignored', 'debug', 'proxyDHCP answers only DISCOVERs on the DHCP port');
  const b = build(c, MsgType.OFFER, ZERO, []);
  return answer(c, 'offer', b, undefined, destination(c.msg, MsgType.OFFER, c.cfg), 'proxyDHCP');
}
