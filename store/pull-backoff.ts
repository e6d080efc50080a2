// Failed pulls are not retried every sync. The rule, the same on every replica: a
// version that failed from a peer (corrupt, oversized, too slow, refused) is not asked
// of that peer again for 1 minute, then 2, 4, ... up to 1 hour after each further
// failure; a success, or the peer announcing another manifest for it, starts afresh.
// Other peers are still asked, so one bad peer does not keep a good copy away.
// Kept in memory: a restart tries each once more.

export interface BackoffOptions {
  now?: () => number;
  firstMs?: number;
  maxMs?: number;
}

interface Failure {
  count: number;
  until: number;
}

/** Asked while a version is held back: names when it will be tried again. */
export class BackingOff extends Error {}

export class PullBackoff {
  private readonly failures = new Map<string, Failure>();
  private readonly now: () => number;
  private readonly firstMs: number;
  private readonly maxMs: number;

  constructor(o: BackoffOptions = {}) {
    this.now = o.now ?? Date.now;
    this.firstMs = o.firstMs ?? 60_000;
    this.maxMs = o.maxMs ?? 3_600_000;
  }

  /** Run `pull` unless `key` failed recently; record how it went. */
  async run<T>(key: string, pull: () => Promise<T>): Promise<T> {
    const f = this.failures.get(key);
    if (f && this.now() < f.until) {
      throw new BackingOff(`failed ${f.count} time${f.count > 1 ? 's' : ''} before; not asked again for ${Math.ceil((f.until - this.now()) / 1000)} s`);
    }
    try {
      const out = await pull();
      this.failures.delete(key);
      return out;
    } catch (err) {
      if (this.failures.size >= 10_000) this.forgetExpired();
      const count = (f?.count ?? 0) + 1;
      this.failures.set(key, { count, until: this.now() + Math.min(this.firstMs * 2 ** (count - 1), this.maxMs) });
      throw err;
    }
  }

  private forgetExpired(): void {
    for (const [k, f] of this.failures) if (f.until <= this.now()) this.failures.delete(k);
  }
}

/** The one every sync in this process shares. */
export const pullBackoff = new PullBackoff();

/** The key a pull is held back by: the peer, the version and the manifest it announced. */
export function backoffKey(peer: string, img: { name: string; version: string; manifest: string }): string {
  return `${peer} ${img.name}/${img.version} ${img.manifest}`;
}
