// Replicas agree by construction: each one reads the others' /status and pulls what
// it lacks. An image version another replica holds is downloaded into a hidden
// folder, every artifact checked against the manifest (whose own hash the peer
// announced), and only then renamed into place; a corrupted copy is never served.
// An inventory with a higher `version:` replaces ours; two different inventories
// with the same version are a conflict, logged loudly, and ours stays in service.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readlink, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseInventory, type Inventory } from '../../cluster/inventory.js';
import { heldImages, type HeldImage } from './images.js';
import { lockImage, pointCurrent } from '../../builders/publish.js';
import { removeTree } from '../../rootfs/remove.js';
import type { Manifest } from '../../builders/steps/manifest.js';
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

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function get(url: string, timeoutMs: number): Promise<Response> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res;
}

/**
 * Download `url` to `file`, returning its size and sha256. `timeoutMs` bounds silence,
 * not the whole transfer: a large image on a slow link takes as long as it takes, but a
 * peer that stops sending for `timeoutMs` is given up.
 */
async function download(url: string, file: string, timeoutMs: number): Promise<{ size: number; sha256: string }> {
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)), timeoutMs);
  const quiet = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no data for ${timeoutMs} ms`)), timeoutMs);
  };
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    if (!res.body) throw new Error(`GET ${url}: no body`);
    const h = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        quiet();
        h.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), tap, createWriteStream(file, { mode: 0o644 }), { signal: ac.signal });
    return { size, sha256: h.digest('hex') };
  } catch (err) {
    // An abort surfaces as a bare AbortError; say which timeout fired.
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}

/** Pull one image version from `peer`; throws (leaving nothing behind) on any mismatch. */
export async function pullImage(peer: string, img: HeldImage, imagesDir: string, timeoutMs: number): Promise<string> {
  if (!SAFE.test(img.name) || !SAFE.test(img.version)) throw new Error(`peer ${peer} announced an unsafe image name ${img.name}/${img.version}`);
  const imageDir = join(imagesDir, img.name);
  await mkdir(imageDir, { recursive: true });
  const release = await lockImage(imageDir);
  const staging = join(imageDir, `.pull-${img.version}-${process.pid}`);
  try {
    await removeTree(staging);
    await mkdir(staging);
    const base = `http://${peer}/images/${img.name}/${img.version}`;
    const text = Buffer.from(await (await get(`${base}/manifest.json`, timeoutMs)).arrayBuffer());
    if (createHash('sha256').update(text).digest('hex') !== img.manifest) throw new Error(`manifest.json of ${img.name}/${img.version} from ${peer} does not match the hash ${peer} announced`);
    const manifest = JSON.parse(text.toString('utf8')) as Manifest;
    for (const a of Object.values(manifest.artifacts)) {
      if (!SAFE.test(a.file)) throw new Error(`manifest of ${img.name}/${img.version} names an unsafe file ${a.file}`);
      const got = await download(`${base}/${a.file}`, join(staging, a.file), timeoutMs);
      if (got.sha256 !== a.sha256 || got.size !== a.size) {
        throw new Error(`${a.file} of ${img.name}/${img.version} from ${peer} is corrupted: sha256 ${got.sha256} (${got.size} bytes), manifest says ${a.sha256} (${a.size} bytes)`);
      }
    }
    await writeFile(join(staging, 'manifest.json'), text);
    await rename(staging, join(imageDir, img.version));
    const current = await readlink(join(imageDir, 'current')).catch(() => undefined);
    if (img.current && (!current || current < img.version)) await pointCurrent(imageDir, img.version);
    return `${img.name}/${img.version}`;
  } finally {
    await removeTree(staging);
    await release();
  }
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
  const text = await (await get(`http://${peer}/inventory`, timeoutMs)).text();
  const next = parseInventory(text, `${peer}/inventory`);
  if (next.hash !== st.inventory.hash) throw new Error(`inventory from ${peer} does not match the hash it announced`);
  await replaceInventoryFile(o.inventoryFile, text);
  o.log.info(`inventory version ${next.version} adopted from ${peer} (was ${ours.version})`);
  return 'adopted';
}

/** Write an inventory file whole or not at all (temp file + rename), so a reload never reads half of one. */
export async function replaceInventoryFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${process.pid}.inventory.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export async function syncOnce(o: SyncOptions): Promise<SyncReport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const report: SyncReport = { pulled: [], rejected: [], unreachable: [] };
  const have = new Set((await heldImages(o.imagesDir)).map((i) => `${i.name}/${i.version}`));
  for (const peer of o.peers) {
    let st: PeerStatus;
    try {
      st = (await (await get(`http://${peer}/status`, timeoutMs)).json()) as PeerStatus;
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

