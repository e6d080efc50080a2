// Who may lease which pool address, so that no two replicas ever offer the same one.
//
// The rule (rendezvous hashing): an address belongs to the live replica r with the
// highest weight sha256("r|address"). Every replica computes the same owner from the
// same inventory and the same live set. When a replica stops answering for
// `deadAfter`, the survivors drop it from the live set and each takes over the
// addresses it would have owned; the others keep theirs, so leases do not move.
// A replica that comes back takes its share again for new offers; leases already
// bound elsewhere stay with their server until they expire.
import { createHash } from 'node:crypto';
import { formatIp4 } from '../../cluster/addr.js';

function weight(replica: string, key: string): number {
  return createHash('sha256').update(`${replica}|${key}`).digest().readUInt32BE(0);
}

/** The replica (from `live`) that owns pool address `ip`. */
export function ownerOf(ip: number, live: readonly string[]): string | undefined {
  return highest(formatIp4(ip), live);
}

/**
 * The replica (from `live`) that answers a reserved node's first DISCOVER, by the same
 * rule keyed by its MAC: a boot storm's answers split evenly, and each replica does a
 * share of the work instead of all of it. The others answer when the node retries.
 */
export function firstResponder(mac: string, live: readonly string[]): string | undefined {
  return highest(mac, live);
}

function highest(key: string, live: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestW = -1;
  for (const r of live) {
    const w = weight(r, key);
    if (w > bestW || (w === bestW && best !== undefined && r < best)) {
      best = r;
      bestW = w;
    }
  }
  return best;
}

/** The live set: this replica, and every other one heard from within `deadAfterMs` (or not yet given the chance). */
export function liveReplicas(self: string, all: readonly string[], lastSeen: ReadonlyMap<string, number>, startedAt: number, now: number, deadAfterMs: number): string[] {
  return all.filter((r) => r === self || now - (lastSeen.get(r) ?? startedAt) < deadAfterMs);
}

/**
 * The live replicas to list in a node's boot script for image `ref` ("name/version"):
 * this one (it renders the script, so it holds the image), and every other live one
 * that holds it by its last /status, or has not answered one yet. A replica still
 * pulling the image is left out until it has it.
 */
export function holdersOf(ref: string, self: string, live: readonly string[], held: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  return live.filter((r) => r === self || (held.get(r)?.has(ref) ?? true));
}

/** "name/version" for every held version, and "name" for the ones that are current. */
export function heldRefs(images: readonly { name: string; version: string; current: boolean }[]): Set<string> {
  const refs = new Set<string>();
  for (const i of images) {
    refs.add(`${i.name}/${i.version}`);
    if (i.current) refs.add(i.name);
  }
  return refs;
}
