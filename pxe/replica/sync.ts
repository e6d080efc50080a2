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
import { z } from 'zod';
import type { Inventory } from '../../cluster/inventory.js';
import { heldImages, type HeldImage } from '../../store/held.js';
import { pullVersion } from '../../store/pull.js';
import { fetchJson } from '../../store/download.js';
import { BackingOff, backoffKey, pullBackoff } from '../../store/pull-backoff.js';
import { imageKeep, pruneImage } from '../../store/prune.js';
import { inTurn } from '../../store/lock.js';
import { retentionKeeps } from '../../store/retention.js';
import type { TrustKey } from '../../lib/sign.js';
import type { Logger } from '../../lib/log.js';
import { fetchPeerInventory, saveInventory } from './inventory-fetch.js';

/** The part of a peer's /status that sync reads; anything else in it is ignored. */
const PeerStatusSchema = z.object({
  replica: z.string().optional(),
  inventory: z.object({ version: z.number().int().min(0), hash: z.string() }),
  images: z.array(z.object({ name: z.string(), version: z.string(), manifest: z.string(), current: z.boolean() })).optional(),
});
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

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
  /** What a peer offered and this replica did not take (a failed check, signature or download), one entry per try. */
  refusals: { what: 'image' | 'inventory'; peer: string }[];
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
  return pullBackoff.run(backoffKey(peer, img), () => pullVersion({ peer, imagesUrl: `http://${peer}/images`, timeoutMs, trust }, img, imagesDir));
}

/** What one round knows, shared by the peer tasks running side by side. */
interface Round {
  o: SyncOptions;
  timeoutMs: number;
  report: SyncReport;
  /** name/version held, or being pulled by one of the tasks. */
  claimed: Set<string>;
  held: HeldImage[];
  /** The inventory version and hash in service, or adopted in this round. */
  inventory: { version: number; hash: string };
  /** Every peer that announced a version (name/version -> its manifest hash -> peers). */
  announced: Map<string, Map<string, string[]>>;
  /** Versions a peer failed to give, and that peer. */
  failed: Map<string, { img: HeldImage; peer: string }>;
}

/**
 * Adopt `peer`'s inventory when its version is above ours (checked and, with `trust`,
 * signed); a refusal is logged and nothing written. A different inventory at our
 * own version is a conflict. One peer at a time (inTurn), so adoptions never race.
 */
async function syncInventory(peer: string, st: PeerStatus, r: Round): Promise<void> {
  const { o } = r;
  const ours = r.inventory;
  if (st.inventory.hash === ours.hash || st.inventory.version < ours.version) return;
  if (st.inventory.version === ours.version) {
    o.log.warn(
      `INVENTORY CONFLICT: replica ${peer} serves a different inventory with the same version ${ours.version} ` +
        `(${st.inventory.hash.slice(0, 12)} vs ours ${ours.hash.slice(0, 12)}); keeping ours. Raise version: on the right one.`,
    );
    r.report.inventory ??= 'conflict';
    return;
  }
  try {
    const got = await fetchPeerInventory(peer, { timeoutMs: r.timeoutMs, trust: o.trust });
    if (got.inventory.hash !== st.inventory.hash) throw new Error(`inventory from ${peer} refused: it does not match the hash ${peer} announced`);
    if (got.inventory.version <= r.inventory.version) return; // another peer's newer one came first
    await saveInventory(o.inventoryFile, got.data, got.sig);
    o.log.info(`inventory version ${got.inventory.version} adopted from ${peer} (was ${ours.version})${got.sig && o.trust ? `, signed by key ${o.trust.id}` : ''}`);
    r.inventory = { version: got.inventory.version, hash: got.inventory.hash };
    r.report.inventory = 'adopted';
  } catch (err) {
    const m = (err as Error).message;
    r.report.refusals.push({ what: 'inventory', peer });
    o.log.warn(`${m.startsWith('inventory from') ? m : `inventory from ${peer} refused: ${m}`}; nothing written`);
  }
}

/** Whether the retention rule keeps `img` among what we hold and what `st` announces. */
async function retained(img: HeldImage, st: PeerStatus, r: Round): Promise<boolean> {
  const mine = r.held.filter((i) => i.name === img.name);
  const keep = await imageKeep(r.o.imagesDir, img.name);
  const versions = [...mine, ...(st.images ?? []).filter((i) => i.name === img.name)].map((i) => i.version);
  if (retentionKeeps(img.version, { versions, current: mine.find((i) => i.current)?.version, keep })) return true;
  r.o.log.debug(`image ${img.name}/${img.version} not pulled: the retention rule (current plus the newest ${keep}) drops it`);
  return false;
}

async function pullFrom(peer: string, img: HeldImage, r: Round): Promise<boolean> {
  const key = `${img.name}/${img.version}`;
  try {
    r.report.pulled.push(await pullImage(peer, img, r.o.imagesDir, r.timeoutMs, r.o.trust));
    r.o.log.info(`image ${key} pulled from ${peer}, every artifact verified${r.o.trust ? `, manifest signed by key ${r.o.trust.id}` : ''}`);
    return true;
  } catch (err) {
    // A version held back after failures is said once, when it failed, not every round.
    const msg = `image ${key} from ${peer} not taken: ${(err as Error).message}`;
    if (err instanceof BackingOff) r.o.log.debug(msg);
    else {
      r.report.refusals.push({ what: 'image', peer });
      r.o.log.warn(msg);
    }
    return false;
  }
}

/** One peer: its status, its inventory, then the versions it holds that we lack and keep. */
async function syncPeer(peer: string, r: Round): Promise<void> {
  let st: PeerStatus;
  try {
    const parsed = PeerStatusSchema.safeParse(await fetchJson<unknown>(`http://${peer}/status`, { timeoutMs: r.timeoutMs }));
    if (!parsed.success) throw new Error(`its /status is not a replica's: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    st = parsed.data;
  } catch (err) {
    r.report.unreachable.push(peer);
    r.o.log.debug(`replica ${peer} did not answer: ${(err as Error).message}`);
    return;
  }
  await inTurn('inventory', () => syncInventory(peer, st, r));
  for (const img of st.images ?? []) {
    const key = `${img.name}/${img.version}`;
    const byHash = r.announced.get(key) ?? new Map<string, string[]>();
    r.announced.set(key, byHash.set(img.manifest, [...(byHash.get(img.manifest) ?? []), peer]));
    if (r.claimed.has(key)) continue;
    // Claimed before the first await: peers' tasks run side by side and must not both pull it.
    r.claimed.add(key);
    if (!(await retained(img, st, r))) {
      r.claimed.delete(key);
      continue;
    }
    // Left claimed on failure: the other peers that announce it are asked once every peer's task is done.
    if (!(await pullFrom(peer, img, r))) r.failed.set(key, { img, peer });
  }
}

export async function syncOnce(o: SyncOptions): Promise<SyncReport> {
  const held = await heldImages(o.imagesDir);
  const ours = o.inventory();
  const r: Round = {
    o,
    timeoutMs: o.timeoutMs ?? 10_000,
    report: { pulled: [], rejected: [], unreachable: [], pruned: [], refusals: [] },
    claimed: new Set(held.map((i) => `${i.name}/${i.version}`)),
    held,
    inventory: { version: ours.version, hash: ours.hash },
    announced: new Map(),
    failed: new Map(),
  };
  // Each peer on its own: a slow or silent one holds up only its own share.
  await eachLimited(o.peers, o.concurrency ?? 4, (peer) => syncPeer(peer, r));
  await eachLimited([...r.failed], o.concurrency ?? 4, async ([key, { img, peer: first }]) => {
    for (const [manifest, peers] of r.announced.get(key) ?? []) {
      for (const peer of peers.filter((p) => p !== first)) if (await pullFrom(peer, { ...img, manifest }, r)) return;
    }
    r.report.rejected.push(key);
  });
  await prune(r);
  return r.report;
}

/** Apply the retention rule to every image held or pulled. */
async function prune(r: Round): Promise<void> {
  const names = new Set([...r.held.map((i) => i.name), ...r.report.pulled.map((k) => k.split('/')[0]!)]);
  for (const name of names) {
    try {
      for (const v of await pruneImage(r.o.imagesDir, name)) {
        r.report.pruned.push(`${name}/${v}`);
        r.o.log.info(`image ${name}/${v} pruned: the publisher keeps current plus the newest ${await imageKeep(r.o.imagesDir, name)}`);
      }
    } catch (err) {
      r.o.log.warn(`pruning image ${name} failed: ${(err as Error).message}`);
    }
  }
}
