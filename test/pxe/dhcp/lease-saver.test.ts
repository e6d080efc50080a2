// LeaseSaver with manual timers and clock: one write per burst of changes, after the
// delay; writes never overlap; a failed write is logged and retried at the next change.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseSaver, type Timers } from '../../../pxe/dhcp/lease-saver.js';
import { LeaseTable } from '../../../pxe/dhcp/leases.js';
import { memoryLogger } from '../../../lib/log.js';

class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; at: number }>();
  t = 0;
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    this.pending.set(this.next, { fn, at: this.t + ms });
    return this.next++;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  advance(ms: number): void {
    this.t += ms;
    for (const [h, p] of [...this.pending]) {
      if (p.at > this.t) continue;
      this.pending.delete(h);
      p.fn();
    }
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const lease = (i: number, expires = 10_000) => ({ ip: `10.0.0.${i}`, mac: `52:54:00:00:00:0${i}`, state: 'bound' as const, expires });

function setup(save?: (file: string, table: LeaseTable, now: number) => Promise<void>) {
  const timers = new ManualTimers();
  const table = new LeaseTable();
  const writes: { now: number; leases: number }[] = [];
  const log = memoryLogger();
  const saver = new LeaseSaver({
    file: '/nonexistent/leases.json', table, delayMs: 250, now: () => 5000 + timers.t, log, timers,
    save: save ?? (async (_f, tb, now) => void writes.push({ now, leases: tb.toJSON(now).leases.length })),
  });
  return { timers, table, writes, log, saver };
}

test('a burst of changes is one write, delayMs after the first; nothing changed, nothing written', async () => {
  const { timers, table, writes, saver } = setup();
  saver.schedule();
  assert.is(timers.pending.size, 0, 'no change: no write scheduled');
  table.put(lease(1));
  saver.schedule();
  table.put(lease(2));
  saver.schedule();
  assert.is(timers.pending.size, 1, 'one write pending for the burst');
  timers.advance(249);
  await tick();
  assert.is(writes.length, 0, 'not one ms before the delay');
  timers.advance(1);
  await tick();
  assert.equal(writes, [{ now: 5250, leases: 2 }], 'written at the delay, with the clock of that moment');
  saver.schedule();
  assert.is(timers.pending.size, 0, 'saved: nothing more to write');
});

test('flush writes at once and cancel drops a pending write; writes queue, never overlap', async () => {
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const { timers, table, saver } = setup(async (_f, tb) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 5));
    order.push(tb.size);
    running--;
  });
  table.put(lease(1));
  saver.schedule();
  saver.cancel();
  assert.is(timers.pending.size, 0);
  const first = saver.flush();
  table.put(lease(2));
  const second = saver.flush();
  await Promise.all([first, second]);
  assert.is(most, 1, 'one write at a time');
  assert.equal(order, [2, 2], 'each write takes the table as it is when it runs');
});

test('a failed write is logged, and the next change writes again', async () => {
  let fail = true;
  const { timers, table, log, saver } = setup(async () => {
    if (fail) throw new Error('disk full');
  });
  table.put(lease(1));
  saver.schedule();
  timers.advance(250);
  await tick();
  assert.match(log.lines.join('\n'), /cannot save leases to \/nonexistent\/leases\.json: disk full/);
  fail = false;
  saver.schedule();
  assert.is(timers.pending.size, 1, 'still unsaved: a write is scheduled again');
});

test('the real write: only after a change since load, and expired leases are left out of the file', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'dl-saver-')), 'leases.json');
  const table = new LeaseTable();
  const saver = new LeaseSaver({ file, table, delayMs: 250, now: () => 5000, log: memoryLogger() });
  await saver.flush();
  assert.not.ok(existsSync(file), 'no change since the table was loaded: no write');
  table.put(lease(1, 4000));
  table.put(lease(2, 6000));
  await saver.flush();
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).leases.map((l: { ip: string }) => l.ip), ['10.0.0.2']);
});

test.run();
