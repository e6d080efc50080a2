// The images a replica serves, resolved through the store (store/resolve.ts); each
// answer is kept for ttlMs.
import { resolveImage, type ResolvedImage } from '../store/resolve.js';
import type { InventoryNode } from '../cluster/inventory.js';

/** A node whose image does not resolve here, and why. */
export interface MissingImage {
  node: string;
  image: string;
  reason: string;
}

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

  /** The nodes whose image does not resolve here (each image is looked up once). */
  async missing(nodes: readonly Pick<InventoryNode, 'name' | 'image'>[]): Promise<MissingImage[]> {
    const why = new Map<string, string | undefined>();
    for (const ref of new Set(nodes.map((n) => n.image))) {
      why.set(ref, await this.resolve(ref).then(() => undefined, (err: Error) => err.message));
    }
    return nodes.flatMap((n) => {
      const reason = why.get(n.image);
      return reason ? [{ node: n.name, image: n.image, reason }] : [];
    });
  }
}

/** One warning per missing image, naming its nodes (the first few) and what to do. */
export function describeMissing(missing: readonly MissingImage[], show = 5): string[] {
  const byImage = new Map<string, MissingImage[]>();
  for (const m of missing) byImage.set(m.image, [...(byImage.get(m.image) ?? []), m]);
  return [...byImage].map(([image, ms]) => {
    const names = ms.slice(0, show).map((m) => m.node).join(', ') + (ms.length > show ? ` and ${ms.length - show} more` : '');
    return `image ${image} of node${ms.length > 1 ? 's' : ''} ${names} is not here: ${ms[0]!.reason}; ` +
      'they cannot boot from this replica until it is built here or pulled from another replica, or the inventory names another image';
  });
}
