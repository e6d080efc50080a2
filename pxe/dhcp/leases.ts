// The dynamic lease table: which pool address is offered to, bound to, or
// quarantined from which client, until when. The table itself is plain data the
// pure policy reads and updates; saving it (JSON, crash-safe: lib/atomic.ts) is the
// server's job, through saveLeases/loadLeases here.
import { readFile, rm } from 'node:fs/promises';
import { parseIp4 } from '../../cluster/addr.js';
import { renameDurable, strayTemps, writeFileAtomic } from '../../lib/atomic.js';
import type { Logger } from '../../lib/log.js';

export type LeaseState = 'offered' | 'bound' | 'declined';

export interface Lease {
  ip: string;
  /** Lower-case colon MAC; empty for a declined (quarantined) address. */
  mac: string;
  state: LeaseState;
  /** Epoch milliseconds. */
  expires: number;
}

export interface LeaseFile {
  version: 1;
  leases: Lease[];
}

export class LeaseTable {
  private readonly byIp = new Map<number, Lease>();
  private readonly byMac = new Map<string, Lease>();
  /** Where the next pool scan starts, per pool (key: start address). */
  private readonly cursor = new Map<number, number>();
  /** Bumped on every change; the server saves when it moves. */
  changes = 0;

  static fromJSON(data: unknown): LeaseTable {
    const t = new LeaseTable();
    const list = (data as Partial<LeaseFile> | null)?.leases;
    if (!Array.isArray(list)) return t;
    for (const l of list as Partial<Lease>[]) {
      if (typeof l?.ip !== 'string' || parseIp4(l.ip) === undefined || typeof l.expires !== 'number') continue;
      if (l.state !== 'offered' && l.state !== 'bound' && l.state !== 'declined') continue;
      t.put({ ip: l.ip, mac: typeof l.mac === 'string' ? l.mac : '', state: l.state, expires: l.expires });
    }
    t.changes = 0;
    return t;
  }

  toJSON(now?: number): LeaseFile {
    const leases = [...this.byIp.values()].filter((l) => now === undefined || l.expires > now);
    leases.sort((a, b) => parseIp4(a.ip)! - parseIp4(b.ip)!);
    return { version: 1, leases };
  }

  get size(): number {
    return this.byIp.size;
  }

  all(): Lease[] {
    return [...this.byIp.values()];
  }

  /** The live lease on an address, if any. */
  at(ip: number, now: number): Lease | undefined {
    const l = this.byIp.get(ip);
    return l && l.expires > now ? l : undefined;
  }

  /** This client's lease (live or expired: an expired address is still its first choice). */
  ofMac(mac: string): Lease | undefined {
    return this.byMac.get(mac);
  }

  /** Free for `mac`: nobody else holds it live. */
  isFreeFor(ip: number, mac: string, now: number): boolean {
    const l = this.at(ip, now);
    return !l || (l.mac === mac && l.state !== 'declined');
  }

  put(l: Lease): void {
    const n = parseIp4(l.ip)!;
    const old = this.byIp.get(n);
    if (old && old.mac && this.byMac.get(old.mac) === old) this.byMac.delete(old.mac);
    if (l.mac) {
      const prev = this.byMac.get(l.mac);
      if (prev && prev !== old) this.byIp.delete(parseIp4(prev.ip)!);
      this.byMac.set(l.mac, l);
    }
    this.byIp.set(n, l);
    this.changes++;
  }

  remove(ip: number): void {
    const l = this.byIp.get(ip);
    if (!l) return;
    this.byIp.delete(ip);
    if (l.mac && this.byMac.get(l.mac) === l) this.byMac.delete(l.mac);
    this.changes++;
  }

  /**
   * First address in [start, end] free for `mac`, scanning from where the last
   * scan stopped so a full pool costs one pass, not one pass per client.
   */
  findFree(start: number, end: number, mac: string, now: number, skip: (ip: number) => boolean): number | undefined {
    const size = end - start + 1;
    const from = this.cursor.get(start) ?? start;
    for (let k = 0; k < size; k++) {
      const ip = start + ((from - start + k) % size);
      if (skip(ip) || !this.isFreeFor(ip, mac, now)) continue;
      this.cursor.set(start, ip + 1 > end ? start : ip + 1);
      return ip;
    }
    return undefined;
  }
}


/** Write the table whole or not at all, so a restart after a crash reads the old or the new table. */
export async function saveLeases(file: string, table: LeaseTable, now: number): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(table.toJSON(now), null, 1)}\n`, { mode: 0o644 });
}

/**
 * Load a lease file; a missing file is an empty table. An empty or corrupt one (a disk
 * that lost the last write, a hand edit) is moved aside to <file>.corrupt-<time> with a
 * loud warning, and the service starts with no dynamic leases rather than not at all.
 */
export async function loadLeases(file: string, o: { log?: Pick<Logger, 'warn'>; now?: () => number } = {}): Promise<LeaseTable> {
  for (const stray of await strayTemps(file)) await rm(stray, { force: true }); // a write a kill cut short
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new LeaseTable();
    throw err;
  }
  let problem: string;
  try {
    const data = JSON.parse(text) as Partial<LeaseFile> | null;
    if (Array.isArray(data?.leases)) return LeaseTable.fromJSON(data);
    problem = 'it has no leases list';
  } catch (err) {
    problem = text.trim() ? `not valid JSON: ${(err as Error).message}` : 'it is empty';
  }
  const aside = `${file}.corrupt-${new Date((o.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`;
  await renameDurable(file, aside);
  o.log?.warn(
    `LEASE FILE UNREADABLE: ${file}: ${problem}. Moved it aside to ${aside} and started with no dynamic leases; ` +
      `clients get addresses again as they renew (reserved nodes are not affected). Look at the file, then delete it.`,
  );
  return new LeaseTable();
}
