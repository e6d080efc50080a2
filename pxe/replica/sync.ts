// Replicas agree by construction: each one reads the others' /status and pulls what
// it lacks. An image version another replica holds is pulled verified, artifact by
// artifact against the manifest (store/pull.ts); a corrupted copy is never served.
// An inventory with a higher `version:` replaces ours; two different inventories
// with the same version are a conflict, logged loudly, and ours stays in service.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseInventory, type Inventory } from '../../cluster/inventory.js';
import { heldImages, type HeldImage } from '../../store/held.js';
import { pullVersion } from '../../store/pull.js';
import { fetchJson, fetchText } from '../../store/download.js';
import { backoffKey, pullBackoff } from '../../store/pull-backoff.js';
import { writeFileAtomic } from '../../lib/atomic.js';
import type { Logger } from '../../lib/log.js';

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
}

export interface SyncReport {
  pulled: string[];
  rejected: string[];
  inventory?: 'adopted' | 'conflict';
  unreachable: string[];
}

/** Pull one image version from `peer` (verified; see store/pull.ts). */
export async function pullImage(peer: string, img: HeldImage, imagesDir: string, timeoutMs: number): Promise<string> {
  return pullBackoff.run(backoffKey(peer, img), () => pullVersion({ peer, imagesUrl: `http://${peer}/images`, timeoutMs }, img, imagesDir));
}

/** Adopt a peer's inventory when its version is higher; report a conflict when it differs at the same version. */
async function syncInventory(peer: string, st: PeerStatus, o: SyncOptions, timeoutMs: number): Promise<SyncReport['inventory']> {
  const ours = o.inventory();
  if (st.inventory.hash === ours.hash) return undefined;
  if (st.inventory.version === ours.version) {
    o.log.warn(
      `INVENTORY CONFLICT: replica ${peer} serves a different inventory with the same version ${ours.version} ` +
        `(${st.inventory.hash.slice(0, 12)} vs ours ${ours.hash.slice(0, 12)}); keeping ours. Raise version: on the right one.`,
    );
    return 'conflict';
  }
  if (st.inventory.version < ours.version) return undefined;
  const text = await fetchText(`http://${peer}/inventory`, { timeoutMs });
  const next = parseInventory(text, `${peer}/inventory`);
  if (next.hash !== st.inventory.hash) throw new Error(`inventory from ${peer} does not match the hash it announced`);
  await replaceInventoryFile(o.inventoryFile, text);
  o.log.info(`inventory version ${next.version} adopted from ${peer} (was ${ours.version})`);
  return 'adopted';
}

/** Write an inventory file whole or not at all, so a reload (or a restart after a crash) never reads half of one. */
export async function replaceInventoryFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, text);
}

export async function syncOnce(o: SyncOptions): Promise<SyncReport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const report: SyncReport = { pulled: [], rejected: [], unreachable: [] };
  const have = new Set((await heldImages(o.imagesDir)).map((i) => `${i.name}/${i.version}`));
  for (const peer of o.peers) {
    let st: PeerStatus;
    try {
      st = await fetchJson<PeerStatus>(`http://${peer}/status`, { timeoutMs });
    } catch (err) {
      report.unreachable.push(peer);
      o.log.debug(`replica ${peer} did not answer: ${(err as Error).message}`);
      continue;
    }
    try {
      report.inventory ??= await syncInventory(peer, st, o, timeoutMs);
    } catch (err) {
      o.log.warn(`inventory from ${peer} refused: ${(err as Error).message}`);
    }
    for (const img of st.images ?? []) {
      const key = `${img.name}/${img.version}`;
      if (have.has(key)) continue;
      try {
        report.pulled.push(await pullImage(peer, img, o.imagesDir, timeoutMs));
        have.add(key);
        o.log.info(`image ${key} pulled from ${peer}, every artifact verified`);
      } catch (err) {
        report.rejected.push(key);
        o.log.warn(`image ${key} from ${peer} not taken: ${(err as Error).message}`);
      }
    }
  }
  return report;
}

