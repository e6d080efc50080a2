// Replicas agree by construction: each one reads the others' /status and pulls what
// it lacks. An image version another replica holds is pulled verified, artifact by
// artifact against the manifest (store/pull.ts); a corrupted copy is never served.
// An inventory with a higher `version:` replaces ours; two different inventories
// with the same version are a conflict, logged loudly, and ours stays in service.
// With a trusted key, inventories and manifests are taken only signed by it.
// Peers are asked side by side, at most `concurrency` at once, so one slow or
// silent peer holds up only its own share. Every replica applies the publisher's
// retention (store/retention.ts) the same way: it never pulls a version the rule
// would drop, and prunes what the rule drops after each round.
import type { Inventory } from '../../cluster/inventory.js';
import { heldImages, type HeldImage } from '../../store/held.js';
import { pullVersion } from '../../store/pull.js';
import { fetchOk } from '../../store/download.js';
import { imageKeep, pruneImage } from '../../store/prune.js';
import { retentionKeeps } from '../../store/retention.js';
import type { TrustKey } from '../../lib/sign.js';
import type { Logger } from '../../lib/log.js';
import { fetchPeerInventory, saveInventory } from './inventory-fetch.js';

export interface PeerStatus {
  replica?: string;
  inventory: { version: number; hash: string };
  images?: HeldImage[];
}

export interface SyncOptions {
  /** host[:port] of every other replica. */
  peers: string[];
  imagesDir: string;
  inventoryFile: string;
  inventory: () => Inventory;
  log: Logger;
  timeoutMs?: number;
  /** Take inventories and manifests only signed by this key. */
  trust?: TrustKey;
  /** Peers asked, and versions pulled, at once; default 4. */
  concurrency?: number;
}

export interface SyncReport {
  pulled: string[];
  rejected: string[];
  inventory?: 'adopted' | 'conflict';
  unreachable: string[];
  /** Versions removed by the retention rule, as name/version. */
  pruned: string[];
}

/** Run `fn` over `items`, at most `limit` at once. */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Pull one image version from `peer` (verified; see store/pull.ts). */
export async function pullImage(peer: string, img: HeldImage, imagesDir: string, timeoutMs: number, trust?: TrustKey): Promise<string> {
  return pullVersion({ peer, imagesUrl: `http://${peer}/images`, timeoutMs, trust }, img, imagesDir);
}

/**
 * Adopt the highest-versioned inventory the peers announce above ours (checked, and
 * with `trust` signed); a refused one is logged and the next is tried. A different
 * inventory at our own version is a conflict.
 */
async function syncInventory(statuses: Map<string, PeerStatus>, o: SyncOptions, timeoutMs: number): Promise<SyncReport['inventory']> {
  const ours = o.inventory();
  let result: SyncReport['inventory'];
  for (const [peer, st] of statuses) {
    if (st.inventory.hash === ours.hash || st.inventory.version !== ours.version) continue;
    o.log.warn(
      `INVENTORY CONFLICT: replica ${peer} serves a different inventory with the same version ${ours.version} ` +
        `(${st.inventory.hash.slice(0, 12)} vs ours ${ours.hash.slice(0, 12)}); keeping ours. Raise version: on the right one.`,
    );
    result = 'conflict';
  }
  const higher = [...statuses].filter(([, st]) => st.inventory.version > ours.version).sort(([, a], [, b]) => b.inventory.version - a.inventory.version);
  for (const [peer, st] of higher) {
    try {
      const got = await fetchPeerInventory(peer, { timeoutMs, trust: o.trust });
      if (got.inventory.hash !== st.inventory.hash) throw new Error(`inventory from ${peer} does not match the hash it announced`);
      if (got.inventory.version <= ours.version) throw new Error(`inventory from ${peer} has version ${got.inventory.version}, not above ours (${ours.version})`);
      await saveInventory(o.inventoryFile, got.data, got.sig);
      o.log.info(`inventory version ${got.inventory.version} adopted from ${peer} (was ${ours.version})${got.sig && o.trust ? `, signed by key ${o.trust.id}` : ''}`);
      return 'adopted';
    } catch (err) {
      o.log.warn(`${(err as Error).message.startsWith('inventory from') ? '' : `inventory from ${peer} refused: `}${(err as Error).message}; nothing written`);
    }
  }
  return result;
}

/** One version to pull and the peers that announced it, in the order asked. */
interface Wanted {
  img: HeldImage;
  peers: string[];
}

/** What to pull: versions we lack that the retention rule keeps, each with every peer that holds it. */
async function plan(statuses: Map<string, PeerStatus>, held: HeldImage[], o: SyncOptions): Promise<Wanted[]> {
  const have = new Set(held.map((i) => `${i.name}/${i.version}`));
  const wanted = new Map<string, Wanted>();
  for (const [peer, st] of statuses) {
    for (const img of st.images ?? []) {
      const key = `${img.name}/${img.version}`;
      if (have.has(key)) continue;
      const w = wanted.get(key);
      // Two peers announcing different manifests for one version: each is checked on its own.
      if (w && w.img.manifest === img.manifest) w.peers.push(peer);
      else if (!w) wanted.set(key, { img, peers: [peer] });
    }
  }
  const out: Wanted[] = [];
  const byImage = new Map<string, Wanted[]>();
  for (const w of wanted.values()) byImage.set(w.img.name, [...(byImage.get(w.img.name) ?? []), w]);
  for (const [name, list] of byImage) {
    const mine = held.filter((i) => i.name === name);
    const keep = await imageKeep(o.imagesDir, name);
    const versions = [...mine.map((i) => i.version), ...list.map((w) => w.img.version)];
    const current = mine.find((i) => i.current)?.version;
    for (const w of list) {
      if (retentionKeeps(w.img.version, { versions, current, keep })) out.push(w);
      else o.log.debug(`image ${name}/${w.img.version} not pulled: the retention rule (current plus the newest ${keep}) drops it`);
    }
  }
  return out;
}

export async function syncOnce(o: SyncOptions): Promise<SyncReport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const limit = o.concurrency ?? 4;
  const report: SyncReport = { pulled: [], rejected: [], unreachable: [], pruned: [] };
  const statuses = new Map<string, PeerStatus>();
  await eachLimited(o.peers, limit, async (peer) => {
    try {
      statuses.set(peer, (await (await fetchOk(`http://${peer}/status`, timeoutMs)).json()) as PeerStatus);
    } catch (err) {
      report.unreachable.push(peer);
      o.log.debug(`replica ${peer} did not answer: ${(err as Error).message}`);
    }
  });
  // In the order given, whatever order they answered in.
  const ordered = new Map(o.peers.filter((p) => statuses.has(p)).map((p) => [p, statuses.get(p)!]));
  report.inventory = await syncInventory(ordered, o, timeoutMs);

  const held = await heldImages(o.imagesDir);
  await eachLimited(await plan(ordered, held, o), limit, async ({ img, peers }) => {
    const key = `${img.name}/${img.version}`;
    for (const peer of peers) {
      try {
        report.pulled.push(await pullImage(peer, img, o.imagesDir, timeoutMs, o.trust));
        o.log.info(`image ${key} pulled from ${peer}, every artifact verified${o.trust ? `, manifest signed by key ${o.trust.id}` : ''}`);
        return;
      } catch (err) {
        o.log.warn(`image ${key} from ${peer} not taken: ${(err as Error).message}`);
      }
    }
    report.rejected.push(key);
  });

  for (const name of new Set([...held, ...report.pulled.map((k) => ({ name: k.split('/')[0]! }))].map((i) => i.name))) {
    try {
      for (const v of await pruneImage(o.imagesDir, name)) {
        report.pruned.push(`${name}/${v}`);
        o.log.info(`image ${name}/${v} pruned: the publisher keeps current plus the newest ${await imageKeep(o.imagesDir, name)}`);
      }
    } catch (err) {
      o.log.warn(`pruning image ${name} failed: ${(err as Error).message}`);
    }
  }
  return report;
}
