// Lease persistence for the DHCP server: a change schedules one write `delayMs` later,
// so a burst of changes costs one write; writes never overlap, and a failed one is
// logged and retried at the next change. Timers and the clock are injected.
import type { Logger } from '../../lib/log.js';
import { saveLeases, type LeaseTable } from './leases.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface LeaseSaverOptions {
  file: string;
  table: LeaseTable;
  /** Delay before writing after a change (ms). */
  delayMs: number;
  /** Epoch ms: leases that ended by then are not written. */
  now: () => number;
  log: Logger;
  timers?: Timers;
  save?: typeof saveLeases;
}

export class LeaseSaver {
  private savedAt: number;
  private timer: unknown;
  private saving: Promise<void> = Promise.resolve();
  private readonly timers: Timers;
  private readonly save: typeof saveLeases;

  constructor(private readonly o: LeaseSaverOptions) {
    this.savedAt = o.table.changes;
    this.timers = o.timers ?? realTimers;
    this.save = o.save ?? saveLeases;
  }

  /** The table may have changed: write it `delayMs` from now, unless a write is already due. */
  schedule(): void {
    if (this.timer !== undefined || this.o.table.changes === this.savedAt) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.o.delayMs);
  }

  /** Write now if anything changed since the last write; resolves when the writes queued so far are done. */
  flush(): Promise<void> {
    const { file, table } = this.o;
    if (table.changes === this.savedAt) return this.saving;
    const mark = table.changes;
    this.saving = this.saving
      .then(() => this.save(file, table, this.o.now()))
      .then(() => {
        this.savedAt = mark;
      })
      .catch((err) => this.o.log.warn(`dhcp: cannot save leases to ${file}: ${(err as Error).message}`));
    return this.saving;
  }

  /** Drop a pending write (a flush follows at close). */
  cancel(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
