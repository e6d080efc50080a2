// Joining a running cluster with nothing local: a node listed under servers: that
// PXE-booted with the service layer knows only the replicas it booted from (a list
// from the kernel command line, which anyone on the boot network can forge). It takes
// the inventory from the first that answers with a good one: validated like a local
// file and, with a trusted key, signed by it (inventory-fetch.ts); a refusal is
// logged and the next replica is asked. The sync loop then pulls every image.
import type { Inventory } from '../../cluster/inventory.js';
import type { Logger } from '../../lib/log.js';
import type { TrustKey } from '../../lib/sign.js';
import { fetchPeerInventory, saveInventory } from './inventory-fetch.js';

export interface JoinOptions {
  /** host[:port] of replicas, tried in order. */
  peers: string[];
  inventoryFile: string;
  log: Logger;
  /** Give up after this long (ms); default: keep trying. */
  timeoutMs?: number;
  fetchTimeoutMs?: number;
  /** Take only an inventory signed by this key. */
  trust?: TrustKey;
}

export async function joinCluster(o: JoinOptions): Promise<{ inventory: Inventory; from: string }> {
  const started = Date.now();
  let pause = 1000;
  for (let round = 1; ; round++) {
    const problems: string[] = [];
    for (const peer of o.peers) {
      const url = `http://${peer}/inventory`;
      try {
        const got = await fetchPeerInventory(peer, { timeoutMs: o.fetchTimeoutMs ?? 5000, trust: o.trust });
        await saveInventory(o.inventoryFile, got.data, got.sig);
        return { inventory: got.inventory, from: peer };
      } catch (err) {
        const why = (err as Error).message.replace(/\s*\n\s*/g, ' ');
        if (/ refused: /.test(why)) o.log.warn(`join: ${why}; nothing written, asking the next replica`);
        problems.push(`${url}: ${why}`);
      }
    }
    const waited = Date.now() - started;
    if (o.timeoutMs !== undefined && waited + pause > o.timeoutMs) {
      throw new Error(`no replica gave its inventory within ${Math.round(waited / 1000)} s: ${problems.join('; ')}`);
    }
    o.log.warn(`join: no inventory yet (round ${round}: ${problems.join('; ')}); trying again in ${pause / 1000} s`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 10_000);
  }
}
