// Rate-limits a noisy kind of log line (a client not in the inventory): once per key
// per window, and at most `maxPerWindow` lines per window overall. The window opens
// at the first line after the previous one has run out. The time is passed in.

export class LogLimiter {
  private readonly seen = new Set<string>();
  private windowStart = 0;
  private lines = 0;

  constructor(
    readonly windowMs: number,
    private readonly maxPerWindow: number,
  ) {}

  /** May a line about `key` be logged at `now`? Counts it if so. */
  allow(key: string, now: number): boolean {
    if (now - this.windowStart > this.windowMs) {
      this.windowStart = now;
      this.lines = 0;
      this.seen.clear();
    }
    if (this.seen.has(key) || this.lines >= this.maxPerWindow) return false;
    this.seen.add(key);
    this.lines++;
    return true;
  }
}
