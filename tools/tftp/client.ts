// A small TFTP read client (RRQ with options, RFC 7440 windows) for tests and the benchmark.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { decode, encode, encodeError, BLOCK_MODULO, DEFAULT_BLKSIZE, ERR_UNKNOWN_TID, OP_ACK, OP_DATA, OP_ERROR, OP_OACK, OP_RRQ, type TftpMessage, type TftpOptions } from '../../pxe/tftp/packet.js';

const RECV_BUFFER = 4 * 1024 * 1024; // octets

export interface TftpGetOptions {
  host: string;
  port?: number;
  file: string;
  mode?: 'octet' | 'netascii' | 'mail';
  blksize?: number;
  windowsize?: number;
  /** Ask for the size (RFC 2349 tsize 0). */
  tsize?: boolean;
  /** RFC 2349 timeout option, in seconds. */
  timeout?: number;
  /** Extra options sent as given (names and values are text). */
  other?: Record<string, string>;
  /** Our own retransmit timeout and retry count. */
  timeoutMs?: number;
  retries?: number;
  localAddress?: string;
  /** Receive the data here instead of collecting it. */
  onData?: (chunk: Buffer) => void;
  createSocket?: () => Socket;
}

export interface TftpGetResult {
  data: Buffer;
  bytes: number;
  blocks: number;
  oack: TftpOptions | undefined;
  blksize: number;
  windowsize: number;
}

export class TftpRemoteError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`server sent ERROR ${code}: ${message}`);
    this.name = 'TftpRemoteError';
  }
}

export function tftpGet(opts: TftpGetOptions): Promise<TftpGetResult> {
  const sock = (opts.createSocket ?? (() => dgram.createSocket('udp4')))();
  const timeoutMs = opts.timeoutMs ?? 1000;
  const retries = opts.retries ?? 5;
  const asked: TftpOptions = {};
  if (opts.blksize !== undefined) asked.blksize = opts.blksize;
  if (opts.tsize) asked.tsize = 0;
  if (opts.timeout !== undefined) asked.timeout = opts.timeout;
  if (opts.windowsize !== undefined) asked.windowsize = opts.windowsize;
  if (opts.other) asked.other = opts.other;
  const rrq = encode({ op: OP_RRQ, filename: opts.file, mode: opts.mode ?? 'octet', options: asked });

  return new Promise<TftpGetResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let server: { address: string; port: number } | undefined;
    let oack: TftpOptions | undefined;
    let blksize = DEFAULT_BLKSIZE;
    let windowsize = 1;
    let expected = 1; // next block wanted, absolute
    let inWindow = 0;
    let gapAcked = false;
    let bytes = 0;
    let tries = 0;
    let deadline = performance.now() + timeoutMs;
    let ended = false;

    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve({ data: opts.onData ? Buffer.alloc(0) : Buffer.concat(chunks), bytes, blocks: expected - 1, oack, blksize, windowsize });
    };
    const send = (pkt: Buffer, to = server) => {
      if (to) sock.send(pkt, to.port, to.address);
      else sock.send(pkt, opts.port ?? 69, opts.host);
    };
    const ack = (absBlock: number, then?: () => void) => {
      const pkt = encode({ op: OP_ACK, block: absBlock % BLOCK_MODULO });
      if (server) sock.send(pkt, server.port, server.address, then && (() => then()));
    };

    let timer = setTimeout(function tick() {
      const now = performance.now();
      if (now >= deadline) {
        if (++tries > retries) return end(new Error(`timed out waiting for ${server ? `block ${expected}` : 'a reply'} from ${opts.host}`));
        if (server) ack(expected - 1); // the last block we have in order
        else send(rrq);
        deadline = now + timeoutMs;
      }
      timer = setTimeout(tick, deadline - now);
    }, timeoutMs);

    const onPacket = (buf: Buffer, rinfo: RemoteInfo) => {
      if (server && (rinfo.port !== server.port || rinfo.address !== server.address)) {
        send(encodeError(ERR_UNKNOWN_TID, 'unknown transfer ID'), { address: rinfo.address, port: rinfo.port });
        return;
      }
      let msg: TftpMessage;
      try {
        msg = decode(buf);
      } catch {
        return;
      }
      if (msg.op === OP_ERROR) return end(new TftpRemoteError(msg.code, msg.message));
      const first = !server;
      if (first) server = { address: rinfo.address, port: rinfo.port };
      if (msg.op === OP_OACK) {
        if (expected !== 1) return;
        if (first) {
          oack = msg.options;
          blksize = msg.options.blksize ?? DEFAULT_BLKSIZE;
          windowsize = msg.options.windowsize ?? 1;
        }
        progress();
        ack(0);
        return;
      }
      if (msg.op !== OP_DATA) return;
      if (msg.block === expected % BLOCK_MODULO) {
        progress();
        gapAcked = false;
        bytes += msg.data.length;
        if (opts.onData) opts.onData(msg.data);
        else chunks.push(Buffer.from(msg.data));
        const final = msg.data.length < blksize;
        expected++;
        // The final ACK must leave before the socket closes.
        if (final) ack(expected - 1, () => end());
        else if (++inWindow >= windowsize) {
          inWindow = 0;
          ack(expected - 1);
        }
      } else if (!gapAcked) {
        // RFC 7440 §4: out of order or a repeat: acknowledge the last block received in order, once.
        gapAcked = true;
        inWindow = 0;
        ack(expected - 1);
      }
    };

    function progress() {
      tries = 0;
      deadline = performance.now() + timeoutMs;
    }

    sock.on('message', (buf, rinfo) => {
      try {
        onPacket(buf, rinfo);
      } catch (err) {
        end(err as Error);
      }
    });
    sock.on('error', (err) => end(err));
    sock.bind(0, opts.localAddress, () => {
      try {
        sock.setRecvBufferSize(RECV_BUFFER); // a window of large blocks arrives at once
      } catch {
        // capped by net.core.rmem_max; the default still works, with more resends
      }
      send(rrq);
    });
  });
}
