// One read transfer on its own socket (RFC 1350 §4: the server's new TID): send a
// window of DATA, slide on ACKs, resend only when the timer runs out.
import type { Socket, RemoteInfo } from 'node:dgram';
import { dataHeader, decode, encode, encodeError, peekOpcode, ACK_LENGTH, ERR_UNDEFINED, ERR_UNKNOWN_TID, OP_ACK, OP_ERROR, OP_OACK, BLOCK_MODULO, type TftpOptions } from './packet.js';
import type { BlockBuffer } from './source.js';

/** First resend of an OACK, in ms: longer than common clients wait before resending ACK 0. */
export const OACK_RESEND_MS = 6000;
/** The least silence before we give up on a peer: longer than common clients wait before they resend their ACK (atftp 5 s). */
export const CLIENT_RETRY_MS = 6000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface TransferResult {
  status: 'done' | 'error';
  bytes: number;
  error?: string;
}

export interface TransferInit {
  socket: Socket;
  peer: { address: string; port: number };
  blocks: BlockBuffer;
  oack: TftpOptions | undefined;
  windowsize: number;
  timeoutMs: number;
  maxTimeoutMs: number;
  retries: number;
  /** How long an OACK may wait for its ACK 0, in all, before the slot is given up. */
  oackWaitMs: number;
  /** A transfer may live `floorMs` plus its size at `bytesPerSec`; `size` is the file's, when known before the end. */
  lifetime: { floorMs: number; bytesPerSec: number; size?: number | undefined };
  clock: Clock;
  onEnd(result: TransferResult): void;
}

export class Transfer {
  private phase: 'oack' | 'data' | 'ended' = 'data';
  private acked = 0; // highest block acknowledged (absolute; 0 = OACK or nothing yet)
  private sent = 0; // highest block sent (absolute)
  private tries = 0;
  private rto: number;
  private deadline = 0;
  private timer: unknown;
  private lifeTimer: unknown;
  private startedAt = 0;
  private waiting = false;

  constructor(private readonly t: TransferInit) {
    this.rto = t.timeoutMs;
    t.socket.on('message', (buf, rinfo) => this.onMessage(buf, rinfo));
    t.socket.on('error', (err) => this.finish('error', `socket: ${err.message}`));
  }

  /** True once the peer has acknowledged anything: a live client at that address, not a stray or forged request. */
  get confirmed(): boolean {
    return this.phase === 'data' && (this.t.oack !== undefined || this.acked > 0);
  }

  start(): void {
    this.startedAt = this.t.clock.now();
    this.lifeTimer = this.t.clock.setTimeout(this.onLifetime, this.allowedMs());
    // A repeated OACK makes strict clients abort ("unexpected OACK", atftp) when only their
    // ACK 0 was lost, so the first OACK resend waits until the client has resent ACK 0 itself
    // (atftp after 5 s); a client that lost the OACK resends its RRQ meanwhile.
    if (this.t.oack) this.rto = Math.min(OACK_RESEND_MS, this.t.oackWaitMs);
    this.arm();
    if (this.t.oack) {
      // RFC 2347 §3: the OACK is acknowledged with ACK 0 before DATA 1.
      this.phase = 'oack';
      this.send(encode({ op: OP_OACK, options: this.t.oack }));
    } else this.pump();
  }

  /** End the transfer; with `tell`, the peer gets an ERROR saying why. */
  abort(reason: string, tell = false): void {
    if (tell && this.phase !== 'ended') this.send(encodeError(ERR_UNDEFINED, reason));
    this.finish('error', reason);
  }

  private allowedMs(): number {
    const { floorMs, bytesPerSec } = this.t.lifetime;
    const bytes = Math.max(this.t.lifetime.size ?? 0, this.t.blocks.bytesTotal ?? 0, this.acked * this.t.blocks.blksize);
    return floorMs + (bytes / bytesPerSec) * 1000;
  }

  // The cap on a transfer's whole life, however it trickles: a client that ACKs just often enough
  // to dodge the retry limit still gives its slot back.
  private readonly onLifetime = (): void => {
    if (this.phase === 'ended') return;
    const left = this.startedAt + this.allowedMs() - this.t.clock.now();
    if (left > 0) {
      this.lifeTimer = this.t.clock.setTimeout(this.onLifetime, left); // a stream's size became known, or it grew
      return;
    }
    this.abort(`transfer took longer than its limit of ${Math.round(this.allowedMs() / 1000)} s`, true);
  };

  // No send callback: an asynchronous send error reaches the socket's 'error' listener instead.
  private send(pkt: Buffer | Buffer[], port = this.t.peer.port, address = this.t.peer.address): void {
    try {
      this.t.socket.send(pkt, port, address);
    } catch (err) {
      this.finish('error', `send: ${(err as Error).message}`);
    }
  }

  /** DATA n as header + a view of the read-ahead bytes, sent without copying them. */
  private sendData(n: number, data: Buffer): void {
    this.send([dataHeader(n), data]);
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.phase === 'ended') return;
    const fromPeer = rinfo.port === this.t.peer.port && rinfo.address === this.t.peer.address;
    // Fast path for the one packet a transfer lives on: a well-formed ACK from the peer is
    // read in place; everything else goes through the codec.
    if (fromPeer && buf.length === ACK_LENGTH && buf[0] === 0 && buf[1] === OP_ACK) return this.onAck((buf[2]! << 8) | buf[3]!);
    if (!fromPeer) {
      // RFC 1350 §4: a packet from another TID gets ERROR 5 and leaves this transfer alone.
      if (peekOpcode(buf) !== OP_ERROR) this.send(encodeError(ERR_UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
      return;
    }
    let msg;
    try {
      msg = decode(buf);
    } catch {
      return; // garbage from the peer: keep going, the timer covers it
    }
    if (msg.op === OP_ACK) this.onAck(msg.block);
    else if (msg.op === OP_ERROR) this.finish('error', `client sent ERROR ${msg.code}: ${msg.message}`);
  }

  private onAck(block: number): void {
    if (this.phase === 'oack') {
      if (block !== 0) return;
      this.phase = 'data';
      this.progress();
      // The timer was set for the long OACK wait; bring it back to the data timeout.
      this.t.clock.clearTimeout(this.timer);
      this.arm();
      this.pump();
      return;
    }
    // Block numbers wrap (0 follows 65535), so place the ACK relative to the last one.
    const ahead = (block - (this.acked % BLOCK_MODULO) + BLOCK_MODULO) % BLOCK_MODULO;
    // RFC 1350 §2 / Sorcerer's Apprentice: a duplicate ACK (ahead 0) never resends; nor does one beyond what was sent.
    if (ahead === 0 || ahead > this.sent - this.acked) return;
    this.acked += ahead;
    this.t.blocks.release(this.acked + 1);
    this.progress();
    const last = this.t.blocks.lastBlock;
    if (last !== undefined && this.acked >= last) return this.finish('done');
    // RFC 7440 §4: an ACK inside the window slides it; only blocks not sent yet go out now.
    this.pump();
  }

  private pump(): void {
    const blocks = this.t.blocks;
    const limit = this.acked + this.t.windowsize;
    while (this.sent < limit) {
      const n = this.sent + 1;
      const last = blocks.lastBlock;
      if (last !== undefined && n > last) break;
      const data = blocks.block(n);
      if (data === undefined) return this.waitFor(n);
      this.sendData(n, data);
      this.sent = n;
    }
    if (!this.waiting && blocks.wantsFill(this.sent + 1)) blocks.fill(this.sent + 1).catch(() => undefined); // read ahead
  }

  private waitFor(n: number): void {
    if (this.waiting) return;
    this.waiting = true;
    this.t.blocks.fill(n).then(
      () => {
        this.waiting = false;
        if (this.phase === 'data') this.pump();
      },
      (err: Error) => {
        this.send(encodeError(ERR_UNDEFINED, 'read error'));
        this.finish('error', `read: ${err.message}`);
      },
    );
  }

  private progress(): void {
    this.tries = 0;
    this.rto = this.t.timeoutMs;
    this.deadline = this.t.clock.now() + this.rto;
  }

  private arm(): void {
    this.deadline = this.t.clock.now() + this.rto;
    this.timer = this.t.clock.setTimeout(this.onTimer, this.rto);
  }

  // The timer is not reset on every ACK; it wakes at the old deadline and sleeps again if there was progress.
  private readonly onTimer = (): void => {
    if (this.phase === 'ended') return;
    const now = this.t.clock.now();
    if (now < this.deadline) {
      this.timer = this.t.clock.setTimeout(this.onTimer, this.deadline - now);
      return;
    }
    if (this.phase === 'oack') return this.oackTimer(now);
    const idle = this.sent === this.acked; // waiting on our own source, nothing in flight
    if (!idle) {
      if (++this.tries > this.t.retries) {
        // RFC 1350 §6: the final ACK may be lost for good; the client then has the whole file.
        const last = this.t.blocks.lastBlock;
        const finalAck = this.phase === 'data' && last !== undefined && this.sent >= last;
        return this.finish('error', `timed out after ${this.t.retries} retries${finalAck ? ' waiting for the ACK of the last block (the client may have the whole file)' : ''}`);
      }
      // Exponential backoff between resends.
      this.rto = Math.min(this.rto * 2, this.t.maxTimeoutMs);
      // The last wait is a silence the client's own timer outlasts. atftp (windowsize) answers a
      // resent window whose blocks it already has with one ACK, then ignores such blocks until its
      // 5 s timer runs out; were that ACK lost, resends every 100 ms would keep its timer from ever
      // running out, and we would give up on a client that has every block we sent.
      if (this.tries === this.t.retries) this.rto = Math.max(this.rto, CLIENT_RETRY_MS);
      this.resend();
    }
    this.arm();
  };

  /** Un-ACKed OACK: resent every OACK_RESEND_MS, and the slot is given up after oackWaitMs in all. */
  private oackTimer(now: number): void {
    const left = this.startedAt + this.t.oackWaitMs - now;
    if (left <= 0) return this.finish('error', `no ACK 0 for the OACK within ${this.t.oackWaitMs / 1000} s`);
    this.send(encode({ op: OP_OACK, options: this.t.oack! }));
    this.rto = Math.min(OACK_RESEND_MS, left);
    this.arm();
  }

  private resend(): void {
    for (let n = this.acked + 1; n <= this.sent; n++) {
      const data = this.t.blocks.block(n);
      if (data) this.sendData(n, data);
    }
  }

  private finish(status: 'done' | 'error', error?: string): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    if (this.timer !== undefined) this.t.clock.clearTimeout(this.timer);
    if (this.lifeTimer !== undefined) this.t.clock.clearTimeout(this.lifeTimer);
    const blocks = this.t.blocks;
    const bytes = status === 'done' ? (blocks.bytesTotal ?? 0) : Math.min(this.acked * blocks.blksize, blocks.bytesTotal ?? Infinity);
    // Let queued sends (an ERROR, the last window) leave before the socket goes.
    setImmediate(() => {
      try {
        this.t.socket.close();
      } catch {
        // already closed
      }
    });
    blocks.close().catch(() => undefined);
    this.t.onEnd({ status, bytes, ...(error !== undefined ? { error } : {}) });
  }
}
