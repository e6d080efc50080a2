// `diskless serve`: the DHCP, TFTP and HTTP servers of one replica, sharing one
// inventory that is reloaded on SIGHUP or when the file changes (inventory-reload.ts);
// with other replicas, heartbeats feed the membership (replica/membership.ts) that
// splits the work, and a sync loop pulls what the others have.
import { networkInterfaces } from 'node:os';
import type { Inventory, InventoryNode } from '../cluster/inventory.js';
import { describeMissing, ImageStore } from './images.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import type { HttpLimits } from './http/limits.js';
import { cacheBudgetFor } from './http/cache-budget.js';
import { startTftpServer, type TftpServer } from './tftp/server.js';
import { resolveChainFiles, tftpBootFiles, type ChainFiles } from './tftp/boot-files.js';
import { GRUB_MODULES } from './tftp/names.js';
import { resolveIpxeFiles } from './http/ipxe-files.js';
import { bootable } from './dhcp/boot.js';
import { startDhcpServer, type DhcpServer } from './dhcp/server.js';
import { isPageRequest, isPeerStatus, type EventLog } from './events.js';
import { pageDir, startPageFeed, type PageFeed } from './page-feed.js';
import type { Logger } from '../lib/log.js';
import { run } from '../lib/run.js';
import { heldImages } from '../store/held.js';
import { sweepStore } from '../store/sweep.js';
import { syncOnce } from './replica/sync.js';
import { heldRefs } from './replica/pool.js';
import { Membership } from './replica/membership.js';
import { startHeartbeats } from './replica/heartbeat.js';
import { LiveInventory } from './inventory-reload.js';
import type { TrustKey } from '../lib/sign.js';
import { ServiceMetrics } from './metrics/metrics.js';
import type { SyncReport } from './replica/sync.js';
import { StatusModel } from './status/model.js';
import { PeerStatuses } from './status/peer-status.js';
import { clusterViewSource } from './status/gather.js';
import type { ClusterView } from './status/schema.js';

export interface ServiceOptions {
  inventoryFile: string;
  imagesDir: string;
  templatesDir: string;
  /** The shared boot templates (default pxe/templates/). */
  bootTemplatesDir?: string;
  ipxeDir: string;
  /** This replica's address; default: the local address listed in the inventory's servers. */
  address?: string;
  httpPort: number;
  tftpPort: number;
  dhcpPort: number;
  dhcp: boolean;
  tftp: boolean;
  proxyDhcp: boolean;
  leaseFile?: string;
  verbose?: boolean;
  /** Seconds between pulls from the other replicas (0: never). */
  syncInterval?: number;
  /** Seconds without an answer after which a replica's share of the pool is taken over. */
  deadAfter?: number;
  /** The clock replica liveness is judged by (epoch ms); default Date.now. */
  now?: () => number;
  /** HTTP connection caps and timeouts; DEFAULT_HTTP_LIMITS for what is not given. */
  httpLimits?: Partial<HttpLimits>;
  /** Memory for image artifacts held whole by the HTTP server; 0 turns it off; default: cacheBudget (http/cache-budget.ts). */
  httpCacheBytes?: number;
  /** serve --trust: take the inventory (local, reloaded, or from a peer) and pulled manifests only signed by this key. */
  trust?: TrustKey;
  /** The VC state store's folder; /cluster shows its VCs when it holds a state.json. */
  vcStateDir?: string;
}

export interface Service {
  address: string;
  inventory(): Inventory;
  reload(reason: string): Promise<boolean>;
  close(): Promise<void>;
  ports: { http: number; tftp?: number; dhcp?: boolean };
  /** Each node's boot, folded from this replica's events (pxe/status/). */
  status: StatusModel;
  /** The cluster view of /cluster (`local`: without the peers' node views). */
  clusterView(local?: boolean): Promise<ClusterView>;
}

/**
 * Every IPv4 address on this host, link up or not: Node's networkInterfaces() skips
 * interfaces without carrier (a bridge whose ports are not up yet), so ask iproute2.
 */
export async function localAddresses(): Promise<string[]> {
  const fromNode = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4')
    .map((a) => a!.address);
  const r = await run(['ip', '-4', '-o', 'addr', 'show']).catch(() => undefined);
  const fromIp = [...(r?.stdout ?? '').matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
  return [...new Set([...fromIp, ...fromNode])];
}

/** This replica's address: the flag, or the one local address the inventory lists. */
export function chooseAddress(inv: Pick<Inventory, 'servers'>, flag: string | undefined, local: string[]): string {
  if (flag) return flag;
  const mine = inv.servers.filter((s) => local.includes(s));
  if (mine.length === 1) return mine[0]!;
  if (mine.length > 1) throw new Error(`this host has several of the inventory's servers (${mine.join(', ')}); pick one with --address`);
  throw new Error(
    `none of this host's addresses (${local.join(', ') || 'none'}) is in the inventory's servers (${inv.servers.join(', ')}); ` +
      `add this replica to servers: in the inventory, or pass --address`,
  );
}

export async function startService(opts: ServiceOptions, events: EventLog): Promise<Service> {
  const log = events.logger(opts.verbose);
  const now = opts.now ?? Date.now;
  if (!opts.trust) log.warn('no --trust key: inventories and images from other replicas are taken unsigned; anyone at a servers: address can replace them (see Trust in the README)');
  const inventory = await LiveInventory.load(opts.inventoryFile, log, opts.trust);
  const inv = inventory.current;
  const address = chooseAddress(inv, opts.address, await localAddresses());
  if (!inv.servers.includes(address)) log.warn(`--address ${address} is not in the inventory's servers; boot scripts list only ${inv.servers.join(', ')}`);
  const membership = new Membership({ self: address, startedAt: now(), deadAfterMs: (opts.deadAfter ?? 90) * 1000 });
  const replicas = replicaView(opts, inventory, membership, now);
  for (const d of (await sweepStore(opts.imagesDir)).removed) log.warn(`removed ${d}, left by an interrupted pull, build or write`);
  await replicas.refreshHeld();
  const images = new ImageStore(opts.imagesDir);
  // A node whose image is not here is accepted, but said so at load and at each reload (and in /status).
  const warnMissing = async (i: Inventory) => describeMissing(await images.missing(i.nodes)).forEach((l) => log.warn(l));
  await warnMissing(inv);
  inventory.onChange((i) => void warnMissing(i).catch(() => undefined));
  const status = new StatusModel(() => inventory.current.nodes);
  const detach = status.attach(events);
  inventory.onChange(() => status.inventoryChanged());
  const peerStatuses = new PeerStatuses(now);
  const clusterView = clusterViewSource({
    self: address, inventory: () => inventory.current, deadAfterMs: membership.deadAfterMs, now, model: status,
    live: () => membership.live(inventory.current.servers, now()), peerStatuses, peers: replicas.peers,
    imagesDir: opts.imagesDir, vcStateDir: opts.vcStateDir,
  });

  const metrics = new ServiceMetrics();
  const unsubscribe = events.subscribe((e) => metrics.observe(e));
  inventory.onChange((i) => metrics.retainNodes(new Set(i.nodes.map((n) => n.name))));
  const servers = await startServers(opts, { address, inventory, replicas, images, log, events, clusterView, metrics, status });
  metrics.watch({
    dhcp: () => servers.dhcp?.stats, http: () => servers.http.connections(), tftp: () => servers.tftp,
    replicas: replicas.liveness, inventoryVersion: () => inventory.current.version,
  });
  inventory.watch();
  const beats = inv.servers.length > 1 ? startHeartbeats({ peers: replicas.peers, membership, now, afterRound: replicas.refreshHeld, ask: peerStatuses.asking() }) : undefined;
  const sync = opts.syncInterval ? startSyncLoop(opts, { intervalMs: opts.syncInterval * 1000, inventory, replicas, log, onRound: (r) => metrics.syncRound(r) }) : undefined;

  log.info(`serving cluster ${inv.cluster} as ${address}: ${describePorts(opts, servers)}; ${inv.nodes.length} nodes, images in ${opts.imagesDir}`);
  return {
    address,
    inventory: () => inventory.current,
    reload: (reason) => inventory.reload(reason),
    ports: { http: servers.http.port, tftp: servers.tftp?.port, dhcp: !!servers.dhcp },
    status,
    clusterView: (local = false) => clusterView(local),
    close: async () => {
      detach();
      inventory.close();
      unsubscribe();
      sync?.stop();
      beats?.stop();
      servers.feed.close();
      await Promise.all([servers.http.close(), servers.tftp?.close(), servers.dhcp?.close()]);
    },
  };
}

type ReplicaView = ReturnType<typeof replicaView>;

/** This replica among the others: the membership's answers, at the service's clock, for the current inventory. */
function replicaView(opts: Pick<ServiceOptions, 'httpPort' | 'imagesDir'>, inventory: LiveInventory, m: Membership, now: () => number) {
  const servers = () => inventory.current.servers;
  // host[:port] of a replica's HTTP service; port 80 is left out to keep URLs short.
  const withPort = (s: string) => (opts.httpPort === 80 ? s : `${s}:${opts.httpPort}`);
  return {
    /** host[:port] of every other replica. */
    peers: () => servers().map(withPort).filter((s) => s.split(':')[0] !== m.self),
    /** Boot scripts list the live replicas that hold the image: a node neither waits on one that is gone nor asks one still pulling it. */
    bootServers: (image: { name: string; version: string }) => m.holdersOf(`${image.name}/${image.version}`, servers(), now()).map(withPort),
    owns: (n: number) => m.owns(n, servers(), now()),
    answersFirst: (mac: string) => m.answersFirst(mac, servers(), now()),
    canBoot: (node: InventoryNode) => m.canBoot(node.image, servers(), now()),
    /** Each replica of the inventory, live or not, and seconds since it answered (for /metrics). */
    liveness: () => {
      const t = now();
      const live = m.live(servers(), t);
      return servers().map((r) => {
        const heard = r === m.self ? undefined : m.lastHeard(r);
        return { replica: r, live: live.includes(r), silentFor: heard === undefined ? undefined : (t - heard) / 1000 };
      });
    },
    /** Re-read what this replica holds ("name/version", and "name" for a current one). */
    refreshHeld: async () => m.holding(heldRefs(await heldImages(opts.imagesDir))),
  };
}

interface Wiring {
  address: string;
  inventory: LiveInventory;
  replicas: ReplicaView;
  images: ImageStore;
  log: Logger;
  events: EventLog;
  clusterView: (local: boolean) => Promise<ClusterView>;
  metrics: ServiceMetrics;
  /** The status model, whose node views the page's /events stream carries. */
  status: StatusModel;
}

interface Servers {
  http: HttpServer;
  feed: PageFeed;
  tftp?: TftpServer;
  dhcp?: DhcpServer;
}

/** The HTTP server, and the TFTP and DHCP servers if asked for, all over the one live inventory. */
async function startServers(opts: ServiceOptions, w: Wiring): Promise<Servers> {
  // The protocol servers describe each exchange both as a log line and as an event;
  // the event is what is printed, so their info lines are kept for --verbose.
  const infoAsDebug = { ...w.log, info: w.log.debug };
  const inv = () => w.inventory.current;
  const onEvent = (e: Parameters<EventLog['emit']>[0]) => {
    // Still counted in /metrics, but not printed.
    const quiet = !opts.verbose && (isPeerStatus(e, [...inv().servers, w.address]) || isPageRequest(e));
    if (!e.node && e.mac) e.node = inv().byMac.get(e.mac)?.name;
    if (!e.node && e.client) e.node = inv().nodes.find((n) => n.ip === e.client!.split(':')[0])?.name;
    w.events.emit(e, { quiet });
  };
  const images = w.images;
  let dhcp: DhcpServer | undefined;
  // Boot binaries resolved once, here: served by these real paths over HTTP and TFTP alike.
  const ipxeFiles = await resolveIpxeFiles(opts.ipxeDir);
  const chain = await resolveChainFiles();
  const boots = bootable(opts.tftp, (f) => ipxeFiles.has(f) || chain.found.has(f));
  w.events.emit({ kind: 'service', message: `boots: ${boots.can.join(', ')}${boots.cannot.length ? `; not: ${boots.cannot.join(', ')}` : ''}` });
  const cache = await cacheBudgetFor(opts.imagesDir, opts.httpCacheBytes);
  w.events.emit({ kind: 'service', message: `HTTP memory for artifacts: ${cache.reason}` });
  const feed = startPageFeed(w.status, { nodes: () => inv().nodes, now: opts.now ?? Date.now, cluster: () => inv().cluster, replica: w.address });
  const http = await startHttpServer({
    images, inventory: inv, templatesDir: opts.templatesDir, bootTemplatesDir: opts.bootTemplatesDir, ipxeDir: opts.ipxeDir, ipxeFiles, servers: w.replicas.bootServers,
    address: '0.0.0.0', port: opts.httpPort, onEvent, limits: opts.httpLimits, cacheBytes: cache.bytes,
    inventorySig: () => w.inventory.sig, cluster: w.clusterView,
    metrics: () => w.metrics.render(),
    page: { dir: pageDir(), events: feed.hub },
    status: async () => ({
      replica: w.address, nodes: inv().nodes.length, images: await heldImages(opts.imagesDir),
      /** node → image, for each node whose image is not here. */
      missing: Object.fromEntries((await images.missing(inv().nodes)).map((m) => [m.node, m.image])),
      ...dhcpStatus(dhcp),
    }),
  });
  const tftp = opts.tftp ? await startTftp(opts, w, { onEvent, log: infoAsDebug, ipxeFiles, chain }) : undefined;
  // Several replicas: each pool address belongs to one live replica (pxe/replica/pool.ts), so no
  // two lease it; each reserved node has one first responder, and the others answer its retries.
  const shared = inv().servers.length > 1;
  dhcp = opts.dhcp
    ? await startDhcpServer({
        inventory: inv, serverIp: w.address, httpPort: opts.httpPort, port: opts.dhcpPort, proxyDhcp: opts.proxyDhcp, tftp: opts.tftp,
        leaseFile: opts.leaseFile, log: infoAsDebug, onEvent,
        owns: shared ? w.replicas.owns : undefined,
        answersFirst: shared ? w.replicas.answersFirst : undefined,
        canBoot: shared ? w.replicas.canBoot : undefined,
      })
    : undefined;
  return { http, feed, tftp, dhcp };
}

/** DHCP fields of /status: reserved addresses their nodes declined (another host holds them), packets dropped by the rate limits. */
function dhcpStatus(dhcp: DhcpServer | undefined): object {
  if (!dhcp) return {};
  return { addressConflicts: dhcp.conflicts().map((c) => ({ ...c, at: new Date(c.at).toISOString() })), dhcpLimited: dhcp.stats.limited };
}

/** TFTP: the iPXE binaries of --ipxe-dir, and (tftp/boot-files.ts) the Secure Boot chain, per-node scripts and image artifacts. */
async function startTftp(opts: ServiceOptions, w: Wiring, o: { onEvent: (e: Parameters<EventLog['emit']>[0]) => void; log: Logger; ipxeFiles: Map<string, string>; chain: ChainFiles }): Promise<TftpServer> {
  const chain = o.chain;
  for (const [name, path] of chain.missing) {
    const who = name in GRUB_MODULES ? 'Xen Dom0s on UEFI (GRUB multiboot2; apt-get install grub-efi-amd64-bin)' : 'Secure Boot nodes (apt-get install shim-signed grub-efi-amd64-signed)';
    w.log.warn(`no ${path}: ${who} cannot boot from this replica (${name})`);
  }
  return startTftpServer({
    root: opts.ipxeDir,
    files: o.ipxeFiles,
    // Bound to this replica's address so every transfer's replies come from it.
    address: w.address,
    port: opts.tftpPort,
    log: o.log,
    onEvent: o.onEvent,
    generate: tftpBootFiles({ templatesDir: opts.templatesDir, bootTemplatesDir: opts.bootTemplatesDir, images: w.images, inventory: () => w.inventory.current, servers: w.replicas.bootServers, chain }),
  });
}

/** Pull what the other replicas have and we lack (verified image versions, newer inventories), never two pulls at once. */
function startSyncLoop(opts: Pick<ServiceOptions, 'imagesDir' | 'inventoryFile' | 'trust'>, o: { intervalMs: number; inventory: LiveInventory; replicas: ReplicaView; log: Logger; onRound?: (r: SyncReport | Error) => void }): { stop(): void } {
  let syncing = false;
  const sync = async () => {
    if (syncing) return;
    syncing = true;
    try {
      const r = await syncOnce({ peers: o.replicas.peers(), imagesDir: opts.imagesDir, inventoryFile: opts.inventoryFile, inventory: () => o.inventory.current, log: o.log, trust: opts.trust }).catch((err: Error) => err);
      o.onRound?.(r);
      if (r instanceof Error) throw r;
      if (r.inventory === 'adopted') await o.inventory.reload('adopted from a replica');
      if (r.pulled.length || r.pruned.length) await o.replicas.refreshHeld();
    } catch (err) {
      o.log.warn(`sync with the other replicas failed: ${(err as Error).message}`);
    } finally {
      syncing = false;
    }
  };
  const timer = setInterval(() => void sync(), o.intervalMs);
  timer.unref();
  void sync();
  return { stop: () => clearInterval(timer) };
}

function describePorts(opts: ServiceOptions, s: Servers): string {
  const dhcp = s.dhcp ? `, dhcp :${opts.dhcpPort}${opts.proxyDhcp ? ' (proxyDHCP, and :4011)' : ''}` : '';
  return `http :${s.http.port}${s.tftp ? `, tftp :${s.tftp.port}` : ''}${dhcp}`;
}
