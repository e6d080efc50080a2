// The last DISCOVER xid per client MAC, to tell a client's retry (same xid again)
// from its first try. Bounded: entries older than `ttlMs` are swept once more than
// `max` clients are remembered. The time is passed in.

/** How long, and for how many clients, a DISCOVER's xid is remembered to spot its retries. */
export const RETRY_MEMORY_MS = 120_000;
export const RETRY_MEMORY_MAX = 50_000;

export class RetryMemory {
  private readonly last = new Map<string, { xid: number; at: number }>();

  constructor(
    private readonly ttlMs = RETRY_MEMORY_MS,
    private readonly max = RETRY_MEMORY_MAX,
  ) {}

  get size(): number {
    return this.last.size;
  }

  /** Record a DISCOVER from `mac` with `xid` at `now`; true if it repeats the previous one within ttlMs. */
  isRetry(mac: string, xid: number, now: number): boolean {
    const prev = this.last.get(mac);
    this.last.set(mac, { xid, at: now });
    if (this.last.size > this.max) {
      for (const [k, v] of this.last) if (now - v.at > this.ttlMs) this.last.delete(k);
    }
    return prev !== undefined && prev.xid === xid && now - prev.at < this.ttlMs;
  }
}
