// The images a replica serves, resolved through the store (store/resolve.ts); each
// answer is kept for ttlMs.
import { resolveImage, type ResolvedImage } from '../store/resolve.js';

export class ImageStore {
  private cache = new Map<string, { at: number; value: ResolvedImage }>();
  constructor(
    readonly root: string,
    private readonly ttlMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolve `name` or `name/version`; throws an error that says what is missing. */
  async resolve(ref: string): Promise<ResolvedImage> {
    const hit = this.cache.get(ref);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = await resolveImage(this.root, ref);
    this.cache.set(ref, { at: this.now(), value });
    return value;
  }
}
