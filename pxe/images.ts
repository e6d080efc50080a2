// The images a replica serves: <images>/<name>/<version>/ with manifest.json, and
// <name>/current. Nodes name an image as `name` (its current version) or
// `name/version` (pinned).
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../builders/steps/manifest.js';

export interface ResolvedImage {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
}

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

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
    const [name, pinned, ...rest] = ref.split('/');
    if (!name || !SAFE.test(name) || rest.length || (pinned !== undefined && !SAFE.test(pinned))) {
      throw new Error(`image reference '${ref}' is not 'name' or 'name/version'`);
    }
    const version = pinned ?? (await readlink(join(this.root, name, 'current')).catch(() => undefined));
    if (!version) throw new Error(`image '${name}' has no current version under ${this.root} (build it: diskless build-image ... --out ${this.root})`);
    const dir = join(this.root, name, version);
    const text = await readFile(join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
    if (!text) throw new Error(`image '${name}' version ${version} has no manifest.json in ${dir}`);
    const value = { name, version, dir, manifest: JSON.parse(text) as Manifest };
    this.cache.set(ref, { at: this.now(), value });
    return value;
  }
}
