// Image artifacts held in memory, whole, for the boot storm: hundreds of nodes fetch the
// same kernel, initrd and root image, and sending from memory skips the read into a
// buffer that every chunk costs otherwise (Node has no sendfile). A file is keyed by its
// path and its stat identity, so a replaced file is a new entry; the least recently
// used go first when the budget is full, and a file larger than the budget is never held.
import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';

export const DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024;

export class FileCache {
  private held = new Map<string, Buffer>();
  private loading = new Map<string, Promise<void>>();
  private bytes = 0;
  constructor(readonly budget = DEFAULT_CACHE_BYTES) {}

  private static key(path: string, st: Stats): string {
    return `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  }

  /** The file's bytes if held; else undefined, and a load starts in the background when it fits. */
  get(path: string, st: Stats): Buffer | undefined {
    const key = FileCache.key(path, st);
    const hit = this.held.get(key);
    if (hit) {
      this.held.delete(key);
      this.held.set(key, hit);
      return hit;
    }
    if (st.size <= this.budget && st.size > 0 && !this.loading.has(key)) {
      const load = readFile(path)
        .then((buf) => void (buf.length === st.size && this.put(key, buf)))
        .catch(() => {}) // the file is sent from disk meanwhile; a read error shows there
        .finally(() => this.loading.delete(key));
      this.loading.set(key, load);
    }
    return undefined;
  }

  /** Bytes held now. */
  size(): number {
    return this.bytes;
  }

  private put(key: string, buf: Buffer): void {
    for (const [k, b] of this.held) {
      if (this.bytes + buf.length <= this.budget) break;
      this.held.delete(k);
      this.bytes -= b.length;
    }
    if (this.bytes + buf.length > this.budget) return;
    this.held.set(key, buf);
    this.bytes += buf.length;
  }
}
