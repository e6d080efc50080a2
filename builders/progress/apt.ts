// Progress of an mmdebstrap --verbose run, read from apt's and dpkg's own lines as
// mmdebstrap passes them through: "N newly installed" (each apt run's package count),
// "Get:N … [size]" (bytes downloaded), "Unpacking" and "Setting up" (dpkg's work), and
// mmdebstrap's "I: …" lines, which mark its phases. Pure: a state and a line in, the
// next state out. The total is known for good once the last apt run (mmdebstrap's
// "installing remaining packages") has said its count.
import type { Progress } from './progress.js';

export interface AptState {
  /** The latest "I: …" line, without the "I: ". */
  phase?: string;
  /** Packages apt said it would install, over every apt run so far. */
  total: number;
  /** Whether the last apt run has said its count (so `total` is final). */
  final: boolean;
  unpacked: number;
  /** "Setting up" lines: packages installed. */
  done: number;
  /** Bytes of every "Get:" so far (indices and packages), as apt gives them. */
  bytes: number;
  /** The phase "N newly installed" was counted in, so a repeated line is not counted twice. */
  countedIn?: string;
  remaining: boolean;
}

export const APT_START: AptState = { total: 0, final: false, unpacked: 0, done: 0, bytes: 0, remaining: false };

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };

/** apt's sizes: "6924 B", "37.6 kB", "8790 kB", "95.8 MB" (SI units; "," as thousands or decimal mark by locale). */
export function aptBytes(n: string, unit: string): number {
  return Number(n.replace(',', '.')) * (UNITS[unit] ?? NaN);
}

export function feedApt(s: AptState, line: string): AptState {
  const info = /^I: (.*)$/.exec(line);
  if (info) return { ...s, phase: info[1]!, remaining: s.remaining || /installing remaining packages/.test(info[1]!) };
  const count = /^\d+ upgraded, (\d+) newly installed/.exec(line);
  if (count) {
    if (s.countedIn === (s.phase ?? '')) return s;
    return { ...s, total: s.total + Number(count[1]), final: s.remaining, countedIn: s.phase ?? '' };
  }
  const get = /^Get:\d+ .* \[([\d.,]+) (B|kB|MB|GB)\]$/.exec(line);
  if (get) return { ...s, bytes: s.bytes + aptBytes(get[1]!, get[2]!) };
  if (/^Unpacking \S/.test(line)) return { ...s, unpacked: s.unpacked + 1 };
  if (/^Setting up \S/.test(line)) return { ...s, done: s.done + 1 };
  return s;
}

export const megabytes = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** "40/143 packages, 34.1 MB downloaded"; a fraction (for the ETA) once the total is final. */
export function describeApt(s: AptState): Progress | undefined {
  if (!s.total && !s.bytes) return undefined;
  const pkgs = s.total ? `${s.done}/${s.total}${s.final ? '' : '+'} packages, ` : '';
  const text = `${pkgs}${megabytes(s.bytes)} downloaded`;
  // Each package is unpacked, then set up: two halves of its work.
  return s.final && s.total ? { text, fraction: Math.min(1, (s.unpacked + s.done) / (2 * s.total)) } : { text };
}
