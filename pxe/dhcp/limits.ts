// Rate limits that keep a flood from draining the pool or the CPU: token buckets per
// client MAC and per source, and a per-source budget of new pool addresses. Pure:
// the time is passed in, nothing is sent or logged here.
//
// "Source" for broadcast DHCP: an unconfigured client sends from 0.0.0.0, and Node
// tells neither the arriving interface nor the frame's Ethernet source (which a
// spoofer forges anyway). So a relayed request's source is its relay (giaddr, which
// the policy accepts only from relays the inventory lists), and a direct one's is the
// datagram's source address: 0.0.0.0 stands for every unconfigured client on our own
// segment. Clients the server has a record of (a reservation or a lease) are not held
// to the per-source limits, so a flood from their segment does not lock them out.

export interface Rate {
  /** Tokens the bucket holds when full: a burst allowed at once. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

export interface DhcpLimits {
  /** Packets per client MAC (chaddr), any client: a PXE boot sends 2 to 6. */
  perMac: Rate;
  /** Packets per source from clients with no record (no reservation, no lease). */
  perSource: Rate;
  /** New pool addresses (offered or bound to a client with no record) per source. */
  newAddresses: Rate;
}

export const DEFAULT_LIMITS: DhcpLimits = {
  perMac: { burst: 20, perSecond: 10 },
  perSource: { burst: 200, perSecond: 100 },
  newAddresses: { burst: 16, perSecond: 0.5 },
};

/** Buckets remembered at most (per kind); idle ones are swept past this. */
export const MAX_BUCKETS = 20_000;

/** Token buckets by key, bounded: past `max` keys, full (idle) buckets are forgotten. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: Rate,
    private readonly max = MAX_BUCKETS,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Take a token for `key` at `now` (ms); false when the bucket is empty. */
  take(key: string, now: number): boolean {
    const b = this.refilled(key, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.max) this.sweep(now);
      b = { tokens: this.rate.burst, at: now };
      this.buckets.set(key, b);
      return b;
    }
    const dt = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(this.rate.burst, b.tokens + dt * this.rate.perSecond);
    b.at = now;
    return b;
  }

  /** Forget buckets that would be full again by now (a new one starts full); else the oldest half. */
  private sweep(now: number): void {
    const full = (b: { tokens: number; at: number }) => b.tokens + (Math.max(0, now - b.at) / 1000) * this.rate.perSecond >= this.rate.burst;
    for (const [k, b] of this.buckets) if (full(b)) this.buckets.delete(k);
    if (this.buckets.size < this.max) return;
    let drop = this.buckets.size >> 1;
    for (const k of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(k);
    }
  }
}

export type Limited = 'mac' | 'source' | undefined;

export class RateLimits {
  readonly config: DhcpLimits;
  private readonly mac: TokenBuckets;
  private readonly source: TokenBuckets;
  private readonly fresh: TokenBuckets;

  constructor(config: Partial<DhcpLimits> = {}) {
    this.config = { ...DEFAULT_LIMITS, ...config };
    this.mac = new TokenBuckets(this.config.perMac);
    this.source = new TokenBuckets(this.config.perSource);
    this.fresh = new TokenBuckets(this.config.newAddresses);
  }

  /**
   * May a packet from `mac` via `source` be handled at `now`? `known`: the server has a
   * record of the client, so only its own MAC's limit applies. Returns which limit
   * refused it, or undefined. The source is checked first, so a flood of new MACs
   * costs no per-MAC bucket.
   */
  admit(mac: string, source: string, known: boolean, now: number): Limited {
    if (!known && !this.source.take(source, now)) return 'source';
    if (!this.mac.take(mac, now)) return 'mac';
    return undefined;
  }

  /** May `source` take one more new pool address at `now`? Counts it if so. */
  newAddress(source: string, now: number): boolean {
    return this.fresh.take(source, now);
  }
}

/** The source a request is limited by: its relay, or the datagram's source address. */
export function sourceKey(giaddr: string, fromAddress: string): string {
  return giaddr !== '0.0.0.0' ? `relay ${giaddr}` : fromAddress;
}
