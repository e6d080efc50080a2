// The one retention rule, applied the same way by the publisher (build-image --keep)
// and by every replica after a sync, so all converge on the same versions: keep the
// image's `current` plus the newest `keep` versions. `keep` comes from the publisher
// and travels in the (signed) manifest. Only names build-image gives (BUILD_VERSION)
// are ever dropped. A replica also asks the rule before pulling, so it never takes a
// version it would prune, and one pruned everywhere is not fed back by a laggard.
import { BUILD_VERSION, compareVersions, sortVersions } from './version.js';

export interface RetentionInput {
  /** Version names of one image (any order). */
  versions: Iterable<string>;
  current: string | undefined;
  /** Versions to keep besides current; 0 or undefined keeps all. */
  keep: number | undefined;
}

/** The versions the rule drops, oldest first. */
export function retentionDrops(r: RetentionInput): string[] {
  const all = sortVersions(new Set(r.versions));
  if (!r.keep) return [];
  const newest = new Set(all.slice(-r.keep));
  return all.filter((v) => v !== r.current && !newest.has(v) && BUILD_VERSION.test(v));
}

/** Whether the rule keeps `candidate` among `held` (what a replica has) with `current`. */
export function retentionKeeps(candidate: string, r: RetentionInput): boolean {
  return !retentionDrops({ ...r, versions: [...r.versions, candidate] }).includes(candidate);
}

/** The newer of two currents: replicas move current only forward (store/pull.ts). */
export function newerCurrent(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}
