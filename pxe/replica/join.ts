// Joining a running cluster with nothing local: a node listed under servers: that
// PXE-booted with the service layer knows only the replicas it booted from. It takes
// the inventory from the first that answers (validated like a local file, written
// atomically); the sync loop then pulls every image, verified, as for any replica.
import { parseInventory, type Inventory } from '../../cluster/inventory.js';
import type { Logger } from '../../lib/log.js';
import { replaceInventoryFile } from './sync.js';
import { fetchText } from '../../store/download.js';

export interface JoinOptions {
  /** host[:port] of replicas, tried in order. */
  peers: string[];
  inventoryFile: string;
  log: Logger;
  /** Give up after this long (ms); default: keep trying. */
  timeoutMs?: number;
  fetchTimeoutMs?: number;
}

export async function joinCluster(o: JoinOptions): Promise<{ inventory: Inventory; from: string }> {
  const started = Date.now();
  let pause = 1000;
  for (let round = 1; ; round++) {
    const problems: string[] = [];
    for (const peer of o.peers) {
      const url = `http://${peer}/inventory`;
      try {
        const text = await fetchText(url, { timeoutMs: o.fetchTimeoutMs ?? 5000 });
        const inventory = parseInventory(text, url);
        await replaceInventoryFile(o.inventoryFile, text);
        return { inventory, from: peer };
      } catch (err) {
        problems.push(`${url}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}`);
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
