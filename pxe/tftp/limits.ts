// Admission control for new requests: concurrent transfers (global and per client)
// and a per-client token bucket on request rate; and a cap on ERROR replies. Pure
// bookkeeping; the clock is passed in.

export interface AdmissionLimits {
  maxTransfers: number;
  maxPerClient: number;
  /** New requests per second per client address, with a burst allowance. */
  ratePerSec: number;
  burst: number;
}

export type Admission = { ok: true } | { ok: false; reason: string };

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_TRACKED = 10_000; // client addresses remembered by the rate limiter

export class Admitter {
  private active = 0;
  private readonly perClient = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: AdmissionLimits) {}

  get activeTransfers(): number {
    return this.active;
  }

  /**
   * Take a slot for `client` (an IP address) at time `now` (ms), or say why not. When every
   * slot is taken, `makeRoom` may free one (synchronously, through release) and says if it did.
   */
  admit(client: string, now: number, makeRoom?: () => boolean): Admission {
    if (!this.takeToken(client, now)) return { ok: false, reason: 'too many requests from this address, slow down' };
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.maxPerClient) return { ok: false, reason: 'too many transfers from this address' };
    if (this.active >= this.limits.maxTransfers && !(makeRoom?.() && this.active < this.limits.maxTransfers)) return { ok: false, reason: 'server busy, try again later' };
    this.active++;
    this.perClient.set(client, mine + 1);
    return { ok: true };
  }

  release(client: string): void {
    this.active--;
    const mine = (this.perClient.get(client) ?? 1) - 1;
    if (mine <= 0) this.perClient.delete(client);
    else this.perClient.set(client, mine);
  }

  private takeToken(client: string, now: number): boolean {
    const { ratePerSec, burst } = this.limits;
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.prune(now);
      b = { tokens: burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Drop buckets that have refilled completely; they hold no information. */
  private prune(now: number): void {
    const full = (this.limits.burst / this.limits.ratePerSec) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(k);
    if (this.buckets.size >= MAX_TRACKED) this.buckets.clear();
  }
}

/**
 * A cap on replies per second (the listening socket's ERRORs), so that a flood of
 * bad requests is not answered by a flood: at most `perSec` in each whole second of
 * the clock. The time is passed in.
 */
export class ReplyBudget {
  private second = 0;
  private left: number;

  constructor(private readonly perSec: number) {
    this.left = perSec;
  }

  /** May one more reply go out at `now` (ms)? Counts it if so. */
  take(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.left = this.perSec;
    }
    return this.left-- > 0;
  }
}
