// The one order of image versions. Publish (--keep prunes the oldest), replica sync
// (a pulled version becomes current only if newer) and root-image reuse (newest
// first) all sort with compareVersions.
// A build's version is its UTC start time, 20261123-141502; a second build in the
// same second is 20261123-141502.2, then .3, ... Runs of digits compare as numbers,
// so `.9` comes before `.10` and `x-9` before `x-10`, for any version name.

/** The names build-image gives versions; only these are pruned by --keep. */
export const BUILD_VERSION = /^\d{8}-\d{6}(\.\d+)?$/;

/** UTC timestamp version, e.g. 20261123-141502. */
export function versionFor(now: Date): string {
  return now.toISOString().replace(/\..*$/, '').replace(/[-:]/g, '').replace('T', '-');
}

/** The n-th name tried for a build started at `now`: the timestamp, then timestamp.2, .3, ... */
export function versionCandidate(now: Date, n: number): string {
  return n === 1 ? versionFor(now) : `${versionFor(now)}.${n}`;
}

const RUNS = /\d+|\D+/g;

function compareDigits(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '');
  const b = y.replace(/^0+(?=\d)/, '');
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when `a` is older than `b`, positive when newer, 0 when the same. */
export function compareVersions(a: string, b: string): number {
  const pa = a.match(RUNS) ?? [];
  const pb = b.match(RUNS) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const d = /^\d/.test(x) && /^\d/.test(y) ? compareDigits(x, y) : x < y ? -1 : 1;
    if (d) return d;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first. */
export function sortVersions(versions: Iterable<string>): string[] {
  return [...versions].sort(compareVersions);
}

/** Whether `candidate` should replace `current` as the current version. */
export function isNewer(candidate: string, current: string | undefined): boolean {
  return current === undefined || compareVersions(candidate, current) > 0;
}
