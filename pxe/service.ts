// `diskless serve`: the DHCP, TFTP and HTTP servers of one replica, sharing one
// inventory that is reloaded on SIGHUP or when the file changes. A reload that
// fails validation is logged and the previous inventory stays in service, whole.
import { watch, type FSWatcher } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { basename, dirname } from 'node:path';
import { loadInventory, type Inventory, type InventoryNode } from '../cluster/inventory.js';
import { ImageStore } from './images.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import { startTftpServer, type TftpServer } from './tftp/server.js';
import { startDhcpServer, type DhcpServer } from './dhcp/server.js';
import { renderBootScript } from './bootscript.js';
import { route } from './http/routes.js';
import type { EventLog } from './events.js';
import { run } from '../lib/run.js';
import { heldImages, type HeldImage } from './replica/images.js';
import { syncOnce } from './replica/sync.js';
import { firstResponder, heldRefs, holdersOf, liveReplicas, ownerOf } from './replica/pool.js';

export interface ServiceOptions {
  inventoryFile: string;
  imagesDir: string;
  templatesDir: string;
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
}

export interface Service {
  address: string;
  inventory(): Inventory;
  reload(reason: string): Promise<boolean>;
  close(): Promise<void>;
  ports: { http: number; tftp?: number; dhcp?: boolean };
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
  // The protocol servers describe each exchange both as a log line and as an event;
  // the event is what is printed, so their info lines are kept for --verbose.
  const infoAsDebug = { ...log, info: log.debug };
  let inv = await loadInventory(opts.inventoryFile);
  const address = chooseAddress(inv, opts.address, await localAddresses());
  if (!inv.servers.includes(address)) log.warn(`--address ${address} is not in the inventory's servers; boot scripts list only ${inv.servers.join(', ')}`);
  const images = new ImageStore(opts.imagesDir);
  // host[:port] of every replica's HTTP service; port 80 is left out to keep URLs short.
  const withPort = (s: string) => (opts.httpPort === 80 ? s : `${s}:${opts.httpPort}`);
  const servers = () => inv.servers.map(withPort);
  // Liveness of the other replicas, from their answers to /status (the heartbeats below).
  const startedAt = Date.now();
  const lastSeen = new Map<string, number>();
  const deadAfterMs = (opts.deadAfter ?? 90) * 1000;
  const live = () => liveReplicas(address, inv.servers, lastSeen, startedAt, Date.now(), deadAfterMs);
  // What each replica holds ("name/version", and "name" for a current one): ours from the
  // images folder, the others' from their /status answers to our heartbeats.
  let heldHere = heldRefs(await heldImages(opts.imagesDir));
  const refreshHeld = async () => {
    heldHere = heldRefs(await heldImages(opts.imagesDir));
  };
  const peerHeld = new Map<string, Set<string>>();
  // Boot scripts list the live replicas that hold the image: a node neither waits on a
  // replica that is gone nor asks one that is still pulling the image.
  const bootServers = (image: { name: string; version: string }) => holdersOf(`${image.name}/${image.version}`, address, live(), peerHeld).map(withPort);
  // A replica without a node's image lets one that has it answer the node (if any does).
  const canBoot = (node: InventoryNode) => heldHere.has(node.image) || !live().some((r) => r !== address && peerHeld.get(r)?.has(node.image));
  const onEvent = (e: Parameters<EventLog['emit']>[0]) => {
    if (!e.node && e.mac) e.node = inv.byMac.get(e.mac)?.name;
    if (!e.node && e.client) e.node = inv.nodes.find((n) => n.ip === e.client!.split(':')[0])?.name;
    events.emit(e);
  };

  const http: HttpServer = await startHttpServer({
    images, inventory: () => inv, templatesDir: opts.templatesDir, ipxeDir: opts.ipxeDir, servers: bootServers,
    address: '0.0.0.0', port: opts.httpPort, onEvent,
    status: async () => ({ replica: address, nodes: inv.nodes.length, images: await heldImages(opts.imagesDir) }),
  });
  let tftp: TftpServer | undefined;
  if (opts.tftp) {
    tftp = await startTftpServer({
      root: opts.ipxeDir,
      // Bound to this replica's address so every transfer's replies come from it.
      address,
      port: opts.tftpPort,
      log: infoAsDebug,
      onEvent,
      // Per-node scripts over TFTP too (boot/<mac>.ipxe), for firmware that chains by TFTP.
      generate: async (path) => {
        const r = route(`/${path}`);
        if (r.kind !== 'boot-script') return undefined;
        const node = inv.byMac.get(r.mac);
        if (!node) return undefined;
        const image = await images.resolve(node.image);
        return Buffer.from(await renderBootScript(opts.templatesDir, r.format, { node, cluster: inv.cluster, image, servers: bootServers(image), replica: inv.servers.includes(node.ip) }));
      },
    });
  }
  let dhcp: DhcpServer | undefined;
  if (opts.dhcp) {
    dhcp = await startDhcpServer({
      inventory: () => inv,
      serverIp: address,
      httpPort: opts.httpPort,
      port: opts.dhcpPort,
      proxyDhcp: opts.proxyDhcp,
      leaseFile: opts.leaseFile,
      log: infoAsDebug,
      onEvent,
      // Each pool address belongs to one live replica (pxe/replica/pool.ts), so no two lease it.
      owns: inv.servers.length > 1 ? (n) => ownerOf(n, live()) === address : undefined,
      // And each reserved node has one first responder; the others answer its retries.
      answersFirst: inv.servers.length > 1 ? (mac) => firstResponder(mac, live()) === address : undefined,
      canBoot: inv.servers.length > 1 ? canBoot : undefined,
    });
  }

  const reload = async (reason: string): Promise<boolean> => {
    try {
      const next = await loadInventory(opts.inventoryFile);
      if (next.hash === inv.hash) return false;
      inv = next;
      log.info(`inventory reloaded (${reason}): cluster ${inv.cluster} version ${inv.version}, ${inv.nodes.length} nodes, sha256 ${inv.hash.slice(0, 12)}`);
      return true;
    } catch (err) {
      log.warn(`inventory reload (${reason}) failed; still serving version ${inv.version} (${inv.hash.slice(0, 12)}):\n${(err as Error).message}`);
      return false;
    }
  };

  // Watch the folder, not the file: editors replace files by rename.
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(opts.inventoryFile), (_ev, name) => {
      if (name && name !== basename(opts.inventoryFile)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload('file changed'), 200);
    });
  } catch (err) {
    log.warn(`cannot watch ${opts.inventoryFile} for changes (${(err as Error).message}); reload with SIGHUP`);
  }

  // Pull what the other replicas have and we lack: image versions (verified) and newer inventories.
  let syncing = false;
  const sync = async () => {
    if (syncing) return;
    syncing = true;
    try {
      const peers = servers().filter((s) => s.split(':')[0] !== address);
      const r = await syncOnce({ peers, imagesDir: opts.imagesDir, inventoryFile: opts.inventoryFile, inventory: () => inv, log });
      if (r.inventory === 'adopted') await reload('adopted from a replica');
      if (r.pulled.length) await refreshHeld();
    } catch (err) {
      log.warn(`sync with the other replicas failed: ${(err as Error).message}`);
    } finally {
      syncing = false;
    }
  };
  const syncTimer = opts.syncInterval ? setInterval(() => void sync(), opts.syncInterval * 1000) : undefined;
  syncTimer?.unref();
  // Heartbeats apart from the pulls (a long image download must not make peers look dead).
  const heartbeat = async () => {
    await Promise.all(
      servers()
        .filter((s) => s.split(':')[0] !== address)
        .map(async (peer) => {
          const st = await fetch(`http://${peer}/status`, { signal: AbortSignal.timeout(3000) })
            .then((r) => (r.ok ? (r.json() as Promise<{ images?: HeldImage[] }>) : undefined))
            .catch(() => undefined);
          if (!st) return;
          lastSeen.set(peer.split(':')[0]!, Date.now());
          if (Array.isArray(st.images)) peerHeld.set(peer.split(':')[0]!, heldRefs(st.images));
        }),
    );
    await refreshHeld().catch(() => undefined);
  };
  const beatTimer = inv.servers.length > 1 ? setInterval(() => void heartbeat(), Math.min(10_000, deadAfterMs / 3)) : undefined;
  beatTimer?.unref();
  if (beatTimer) void heartbeat(); // at once: who is up, and what they hold
  if (opts.syncInterval) void sync();

  log.info(
    `serving cluster ${inv.cluster} as ${address}: http :${http.port}` +
      `${tftp ? `, tftp :${tftp.port}` : ''}${dhcp ? `, dhcp :${opts.dhcpPort}${opts.proxyDhcp ? ' (proxyDHCP, and :4011)' : ''}` : ''}; ` +
      `${inv.nodes.length} nodes, images in ${opts.imagesDir}`,
  );
  return {
    address,
    inventory: () => inv,
    reload,
    ports: { http: http.port, tftp: tftp?.port, dhcp: !!dhcp },
    close: async () => {
      clearTimeout(timer);
      clearInterval(syncTimer);
      clearInterval(beatTimer);
      watcher?.close();
      await Promise.all([http.close(), tftp?.close(), dhcp?.close()]);
    },
  };
}
