// How long a piece of work has left, at the rate it has gone since it was first
// measured. Pure: two readings (time in ms, share done 0..1) in.
export interface Reading {
  at: number;
  fraction: number;
}

/** Seconds left, or undefined while it cannot be told (no gain yet, under a second of readings, or done). */
export function etaSeconds(from: Reading, now: Reading): number | undefined {
  const gained = now.fraction - from.fraction;
  const ms = now.at - from.at;
  if (gained <= 0 || ms < 1000 || now.fraction >= 1) return undefined;
  return Math.round(((ms / gained) * (1 - now.fraction)) / 1000);
}

/** "45s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
}
