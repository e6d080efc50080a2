// The inventory a replica serves, reloaded on request (SIGHUP, a sync that adopted a
// newer one) or when the file changes. A reload that fails validation is logged and
// the previous inventory stays in service, whole.
// With a trusted key, the file counts only with FILE.sig by that key, at start and at
// every reload; an unsigned or wrongly signed one is refused and logged by name. The
// signature in service is kept with the inventory, for /inventory.sig.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseInventory, type Inventory } from '../cluster/inventory.js';
import { ConfigError } from '../lib/yamlfile.js';
import { readSigned, SIG_SUFFIX, type TrustKey } from '../lib/sign.js';
import type { Logger } from '../lib/log.js';

/** The inventory in `file`, and its signature; with `trust`, only if the pair verifies. */
export async function loadSignedInventory(file: string, trust: TrustKey | undefined): Promise<{ inventory: Inventory; sig?: string }> {
  let got;
  try {
    got = await readSigned(file, trust);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(e.code ? `cannot read the inventory ${file}: ${e.message}` : `inventory ${file} refused: ${e.message}`, file, []);
  }
  return { inventory: parseInventory(got.data.toString('utf8'), file), sig: got.sig };
}

/** Wait this long after the last change event before reloading: an editor's save is several events. */
const SETTLE_MS = 200;

export class LiveInventory {
  private inv: Inventory;
  private signature: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((inv: Inventory) => void)[] = [];

  constructor(
    readonly file: string,
    initial: Inventory,
    private readonly log: Logger,
    sig?: string,
    private readonly trust?: TrustKey,
  ) {
    this.inv = initial;
    this.signature = sig;
  }

  static async load(file: string, log: Logger, trust?: TrustKey): Promise<LiveInventory> {
    const { inventory, sig } = await loadSignedInventory(file, trust);
    return new LiveInventory(file, inventory, log, sig, trust);
  }

  get current(): Inventory {
    return this.inv;
  }

  /** FILE.sig of the inventory in service, if it had one. */
  get sig(): string | undefined {
    return this.signature;
  }

  /** Load the file again; true if a different, valid inventory is now in service. */
  async reload(reason: string): Promise<boolean> {
    const inv = this.inv;
    try {
      const { inventory: next, sig } = await loadSignedInventory(this.file, this.trust);
      if (next.hash === inv.hash) {
        this.signature = sig;
        return false;
      }
      this.inv = next;
      this.signature = sig;
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
        if (name && name !== basename(this.file) && name !== `${basename(this.file)}${SIG_SUFFIX}`) return;
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
