// A peer's inventory, as sync and --join take it: GET /inventory and /inventory.sig.
// With a trusted key the pair must verify before the text is even parsed, so an
// unsigned or wrongly signed inventory (whatever version it claims) is refused, and
// a version moves forward only by one the administrator signed. A taken inventory is
// saved with its signature, so a restart verifies it again.
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseInventory, type Inventory } from '../../cluster/inventory.js';
import { SIG_SUFFIX, verifyBytes, writeSignedPair, type TrustKey } from '../../lib/sign.js';
import { writeFileAtomic } from '../../lib/atomic.js';
import { fetchCapped, fetchCappedOptional } from '../../store/download.js';

/** A .sig is one short line. */
const SIG_CAP_BYTES = 4096;

export interface PeerInventory {
  inventory: Inventory;
  /** The bytes as served (and signed). */
  data: Buffer;
  sig?: string;
}

function get(url: string, timeoutMs: number, optional: boolean): Promise<Buffer | undefined> {
  return optional ? fetchCappedOptional(url, { timeoutMs, maxBytes: SIG_CAP_BYTES }) : fetchCapped(url, { timeoutMs });
}

/** Fetch and check `peer`'s inventory; throws saying what was refused and why. */
export async function fetchPeerInventory(peer: string, o: { timeoutMs: number; trust?: TrustKey }): Promise<PeerInventory> {
  const url = `http://${peer}/inventory`;
  const data = (await get(url, o.timeoutMs, false))!;
  const sigBytes = await get(`${url}${SIG_SUFFIX}`, o.timeoutMs, true);
  const sig = sigBytes?.toString('utf8');
  if (o.trust) {
    if (sig === undefined) throw new Error(`inventory from ${peer} refused: not signed (no /inventory.sig), and this replica trusts only key ${o.trust.id}`);
    try {
      verifyBytes(data, sig, o.trust);
    } catch (err) {
      throw new Error(`inventory from ${peer} refused: ${(err as Error).message}`);
    }
  }
  return { inventory: parseInventory(data.toString('utf8'), url), data, sig };
}

/**
 * Write an inventory file (and its signature) whole or not at all, so a reload, or a
 * restart after a crash, never reads half of one, and with its signature so that a kill
 * at any step leaves a pair that verifies (lib/sign.ts writeSignedPair). Without a
 * signature, a stale FILE.sig is removed so the pair never disagrees.
 */
export async function saveInventory(file: string, data: string | Uint8Array, sig?: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  if (sig !== undefined) return writeSignedPair(file, data, sig);
  await rm(`${file}${SIG_SUFFIX}`, { force: true });
  await writeFileAtomic(file, data);
}
