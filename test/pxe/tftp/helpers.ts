// Test helpers for the TFTP tests: a raw UDP peer that records what it receives,
// a hand-driven clock, and a collector for server events.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { decode, type TftpMessage } from '../../../pxe/tftp/packet.js';
import type { Clock } from '../../../pxe/tftp/transfer.js';
import type { TftpEvent } from '../../../pxe/tftp/server.js';

export interface Received {
  msg: TftpMessage;
  rinfo: RemoteInfo;
}

/** A UDP socket on loopback that queues decoded packets; `next()` takes them in order. */
export class RawPeer {
  readonly all: Received[] = [];
  private queue: Received[] = [];
  private wake: (() => void) | undefined;

  private constructor(readonly sock: Socket) {
    sock.on('message', (buf, rinfo) => {
      const r = { msg: decode(buf), rinfo };
      this.all.push(r);
      this.queue.push(r);
      this.wake?.();
    });
  }

  static async open(address = '127.0.0.1'): Promise<RawPeer> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, address, resolve));
    return new RawPeer(sock);
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): void {
    this.sock.send(buf, port, address);
  }

  /** The next packet; fails the test when none comes within `waitMs` (a hang guard, not a speed check). */
  async next(waitMs = 5000): Promise<Received> {
    const deadline = Date.now() + waitMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no packet arrived');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.queue.shift()!;
  }

  /** Everything that arrives in the next `ms` (used to show that nothing more was sent). */
  async drain(ms = 200): Promise<Received[]> {
    await new Promise((r) => setTimeout(r, ms));
    const q = this.queue;
    this.queue = [];
    return q;
  }

  close(): void {
    this.sock.close();
  }
}

/** A clock that moves only when told; timers due by then run in order. */
export class ManualClock implements Clock {
  t = 0;
  readonly delays: number[] = [];
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

export class Events {
  readonly list: TftpEvent[] = [];
  readonly push = (e: TftpEvent) => this.list.push(e);

  async waitFor(pred: (e: TftpEvent) => boolean, waitMs = 10_000): Promise<TftpEvent> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const e = this.list.find(pred);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`no such event; have ${JSON.stringify(this.list)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
