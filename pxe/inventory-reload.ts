// The inventory a replica serves, reloaded on request (SIGHUP, a sync that adopted a
// newer one) or when the file changes. A reload that fails validation is logged and
// the previous inventory stays in service, whole.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadInventory, type Inventory } from '../cluster/inventory.js';
import type { Logger } from '../lib/log.js';

/** Wait this long after the last change event before reloading: an editor's save is several events. */
const SETTLE_MS = 200;

export class LiveInventory {
  private inv: Inventory;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((inv: Inventory) => void)[] = [];

  constructor(
    readonly file: string,
    initial: Inventory,
    private readonly log: Logger,
  ) {
    this.inv = initial;
  }

  static async load(file: string, log: Logger): Promise<LiveInventory> {
    return new LiveInventory(file, await loadInventory(file), log);
  }

  get current(): Inventory {
    return this.inv;
  }

  /** Load the file again; true if a different, valid inventory is now in service. */
  async reload(reason: string): Promise<boolean> {
    const inv = this.inv;
    try {
      const next = await loadInventory(this.file);
      if (next.hash === inv.hash) return false;
      this.inv = next;
      this.log.info(`inventory reloaded (${reason}): cluster ${next.cluster} version ${next.version}, ${next.nodes.length} nodes, sha256 ${next.hash.slice(0, 12)}`);
      for (const fn of this.listeners) fn(next);
      return true;
    } catch (err) {
      this.log.warn(`inventory reload (${reason}) failed; still serving version ${inv.version} (${inv.hash.slice(0, 12)}):\n${(err as Error).message}`);
      return false;
    }
  }

  /** Call `fn` with each new inventory a reload puts in service. */
  onChange(fn: (inv: Inventory) => void): void {
    this.listeners.push(fn);
  }

  /** Reload when the file changes. Watch the folder, not the file: editors replace files by rename. */
  watch(): void {
    try {
      this.watcher = watch(dirname(this.file), (_ev, name) => {
        if (name && name !== basename(this.file)) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.reload('file changed'), SETTLE_MS);
      });
    } catch (err) {
      this.log.warn(`cannot watch ${this.file} for changes (${(err as Error).message}); reload with SIGHUP`);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
