// Namespace plumbing for the storm test and bench/storm.ts: a hub namespace with a
// bridge, one namespace per server joined to it, and the storm runner (run.ts)
// started inside the hub.
import { join } from 'node:path';
import { hubTopology, type Hub } from '../../host/bridge.js';
import type { Netns } from '../../host/netns.js';
import { watchLines } from '../../host/output.js';
import { projectRoot } from '../../lib/paths.js';
import type { StormResult } from './storm.js';
import type { RunConfig } from './run.js';

export const nodeMac = (i: number) => `52:54:00:77:${(1 + (i >> 8)).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** A hub namespace with bridge br0 (holding `hubCidr`), and one namespace per replica address (a /24) joined to it. */
export function topology(ips: string[], hubCidr: string): Hub {
  return hubTopology(ips.map((addr) => `${addr}/24`), hubCidr);
}

/** Give `ns`'s bridge the nodes' addresses, so simulated nodes fetch from their own (RunConfig.httpFromLeased). */
export function holdNodeAddresses(ns: Netns, ips: string[], dev = 'br0'): void {
  ns.exec(['ip', '-batch', '-'], { input: ips.map((a) => `addr add ${a}/32 dev ${dev}`).join('\n') + '\n' });
}

/** Start the storm runner in `ns`; resolves with its watcher once its DHCP socket is bound. */
export async function startStorm(ns: Netns, cfg: RunConfig) {
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'tools/storm/run.ts'), JSON.stringify(cfg)], { cwd: projectRoot() });
  const w = watchLines(child);
  await w.waitFor(/^READY$/, 30_000, 'the storm runner');
  return {
    child,
    w,
    result: async (ms: number) => JSON.parse((await w.waitFor(/^RESULT /, ms, 'the storm to finish')).slice(7)) as StormResult,
  };
}
