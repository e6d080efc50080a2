// Read-only TFTP server: the listening socket takes requests, checks them, and
// hands each admitted one to a Transfer on a socket of its own.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { realpath } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { silentLogger, type Logger } from '../../lib/log.js';
import { Admitter } from './limits.js';
import { DEFAULT_LIMITS, negotiate } from './options.js';
import { decode, encodeError, peekOpcode, TftpDecodeError, ERR_ACCESS, ERR_ILLEGAL_OP, ERR_UNDEFINED, OP_ERROR, OP_RRQ, OP_WRQ, MAX_BLKSIZE, type TftpMessage, type TftpRequest } from './packet.js';
import { cleanName, openInRoot, PathRefused } from './paths.js';
import { BlockBuffer, bufferSource, fileSource, netasciiSource, streamSource, type ChunkSource } from './source.js';
import { realClock, Transfer, type Clock, type TransferResult } from './transfer.js';

export const TFTP_PORT = 69; // uint16 (RFC 1350 §4)

export interface TftpEvent {
  kind: 'tftp';
  client: string;
  file: string;
  status: 'done' | 'error';
  bytes: number;
  ms: number;
  blksize: number;
  windowsize: number;
  error?: string;
}

export interface TftpClientInfo {
  address: string;
  port: number;
}

/** Files made on request (per-node boot scripts); undefined means "look in the root". */
export type GenerateFile = (path: string, client: TftpClientInfo) => Promise<Buffer | Readable | undefined>;

export interface TftpServerOptions {
  root: string;
  address?: string;
  port?: number;
  generate?: GenerateFile;
  log?: Logger;
  onEvent?: (e: TftpEvent) => void;
  maxTransfers?: number;
  maxPerClient?: number;
  /** New requests per second per client address (token bucket), and the burst it allows. */
  ratePerSec?: number;
  burst?: number;
  /** Retransmit timeout when the client sends no `timeout` option; doubles on each retry. */
  timeoutMs?: number;
  retries?: number;
  maxBlksize?: number;
  maxWindowsize?: number;
  createSocket?: () => Socket;
  clock?: Clock;
}

export interface TftpServer {
  port: number;
  address: string;
  readonly activeTransfers: number;
  close(): Promise<void>;
}

const SEND_BUFFER = 4 * 1024 * 1024; // octets per transfer socket, for windows of large blocks
const ERROR_REPLIES_PER_SEC = 2000; // cap on ERRORs the listening socket sends, so it is no flood amplifier

// Peers are always IP literals (from rinfo), so "resolving" one is the identity. Answering at
// once keeps send() synchronous; the default dns.lookup defers every datagram by a tick.
const literalLookup = (address: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void => cb(null, address, 4);

function bind(sock: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    sock.once('error', onError);
    sock.bind(port, address, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

export async function startTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  const log = opts.log ?? silentLogger();
  const clock = opts.clock ?? realClock;
  const createSocket = opts.createSocket ?? (() => dgram.createSocket({ type: 'udp4', lookup: literalLookup }));
  const address = opts.address ?? '0.0.0.0';
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LIMITS.defaultTimeoutMs;
  const retries = opts.retries ?? 5;
  const limits = { maxBlksize: opts.maxBlksize ?? MAX_BLKSIZE, maxWindowsize: opts.maxWindowsize ?? DEFAULT_LIMITS.maxWindowsize, defaultTimeoutMs: timeoutMs };
  const admitter = new Admitter({
    maxTransfers: opts.maxTransfers ?? 256,
    maxPerClient: opts.maxPerClient ?? 16,
    ratePerSec: opts.ratePerSec ?? 50,
    burst: opts.burst ?? 100,
  });
  const realRoot = await realpath(opts.root);
  const transfers = new Set<Transfer>();
  let closed = false;
  let errorBudget = { second: 0, left: ERROR_REPLIES_PER_SEC };

  const main = createSocket();
  main.on('error', (err) => log.warn(`tftp: listening socket: ${err.message}`));
  await bind(main, opts.port ?? TFTP_PORT, address);

  function replyError(rinfo: RemoteInfo, code: number, message: string): void {
    const second = Math.floor(clock.now() / 1000);
    if (second !== errorBudget.second) errorBudget = { second, left: ERROR_REPLIES_PER_SEC };
    if (errorBudget.left-- <= 0) return;
    try {
      main.send(encodeError(code, message), rinfo.port, rinfo.address);
    } catch {
      // closing
    }
  }

  function report(e: TftpEvent): void {
    const what = e.status === 'done' ? `sent ${e.bytes} bytes in ${Math.round(e.ms)} ms` : `failed after ${e.bytes} bytes: ${e.error}`;
    log.info(`tftp ${e.client} ${e.file}: ${what} (blksize ${e.blksize}, windowsize ${e.windowsize})`);
    try {
      opts.onEvent?.(e);
    } catch (err) {
      log.warn(`tftp: onEvent threw: ${(err as Error).message}`);
    }
  }

  function onRequest(buf: Buffer, rinfo: RemoteInfo): void {
    if (closed) return;
    const op = peekOpcode(buf);
    // RFC 1350 §7: ERROR packets are never answered; nor is a packet too short to name its kind.
    if (op === undefined || op === OP_ERROR) return;
    let msg: TftpMessage;
    try {
      msg = decode(buf);
    } catch (err) {
      const code = err instanceof TftpDecodeError ? err.code : ERR_ILLEGAL_OP;
      log.debug(`tftp ${rinfo.address}:${rinfo.port}: malformed packet: ${(err as Error).message}`);
      replyError(rinfo, code, (err as Error).message);
      return;
    }
    if (msg.op !== OP_RRQ) {
      // This server only reads; RFC 1350 §5 has "access violation" for a refused write.
      if (msg.op === OP_WRQ) replyError(rinfo, ERR_ACCESS, 'read-only server');
      else replyError(rinfo, ERR_ILLEGAL_OP, 'expected a read request');
      return;
    }
    if (msg.mode === 'mail') {
      replyError(rinfo, ERR_ILLEGAL_OP, "mode 'mail' is not supported");
      return;
    }
    const adm = admitter.admit(rinfo.address, clock.now());
    if (!adm.ok) {
      log.debug(`tftp ${rinfo.address}:${rinfo.port} ${msg.filename}: refused: ${adm.reason}`);
      replyError(rinfo, ERR_UNDEFINED, adm.reason);
      return;
    }
    startTransfer(msg, rinfo).catch((err: Error) => log.warn(`tftp: transfer setup: ${err.message}`));
  }

  async function openSource(name: string, rinfo: RemoteInfo): Promise<{ size: number | undefined; make: (blksize: number) => ChunkSource }> {
    const generated = opts.generate ? await opts.generate(name, { address: rinfo.address, port: rinfo.port }) : undefined;
    if (Buffer.isBuffer(generated)) return { size: generated.length, make: () => bufferSource(generated) };
    if (generated) return { size: undefined, make: () => streamSource(generated) };
    const file = await openInRoot(realRoot, name); // opened once: later changes to the root do not reach this transfer
    return { size: file.size, make: (blksize) => fileSource(file.fh, blksize) };
  }

  async function startTransfer(req: TftpRequest, rinfo: RemoteInfo): Promise<void> {
    const started = clock.now();
    const client = `${rinfo.address}:${rinfo.port}`;
    let file = req.filename;
    let settings = negotiate(req.options, { size: undefined, mode: req.mode }, limits);
    const fail = (code: number, message: string) => {
      admitter.release(rinfo.address);
      replyError(rinfo, code, message);
      report({ kind: 'tftp', client, file, status: 'error', bytes: 0, ms: clock.now() - started, blksize: settings.blksize, windowsize: settings.windowsize, error: message });
    };
    let src: ChunkSource;
    let sock: Socket;
    try {
      file = cleanName(req.filename);
      const opened = await openSource(file, rinfo);
      // Netascii changes the length, so a size known for the file is not the size sent.
      settings = negotiate(req.options, { size: req.mode === 'netascii' ? undefined : opened.size, mode: req.mode }, limits);
      src = opened.make(settings.blksize);
      if (req.mode === 'netascii') src = netasciiSource(src);
    } catch (err) {
      if (err instanceof PathRefused) fail(err.code, err.message);
      else fail(ERR_UNDEFINED, `cannot read '${file}': ${(err as Error).message}`);
      return;
    }
    try {
      if (closed) throw new Error('server is closing');
      sock = createSocket();
      await bind(sock, 0, address);
      try {
        sock.setSendBufferSize(SEND_BUFFER);
      } catch {
        // capped by net.core.wmem_max; libuv queues what does not fit
      }
    } catch (err) {
      await src.close().catch(() => undefined);
      fail(ERR_UNDEFINED, `no transfer socket: ${(err as Error).message}`);
      return;
    }
    const { blksize, windowsize } = settings;
    const transfer: Transfer = new Transfer({
      socket: sock,
      peer: { address: rinfo.address, port: rinfo.port },
      blocks: new BlockBuffer(src, blksize),
      oack: settings.oack,
      windowsize,
      timeoutMs: settings.timeoutMs,
      maxTimeoutMs: settings.timeoutMs * 8,
      retries,
      clock,
      onEnd: (r: TransferResult) => {
        transfers.delete(transfer);
        admitter.release(rinfo.address);
        report({ kind: 'tftp', client, file, status: r.status, bytes: r.bytes, ms: clock.now() - started, blksize, windowsize, ...(r.error !== undefined ? { error: r.error } : {}) });
      },
    });
    transfers.add(transfer);
    transfer.start();
  }

  main.on('message', (buf, rinfo) => {
    try {
      onRequest(buf, rinfo);
    } catch (err) {
      log.warn(`tftp ${rinfo.address}:${rinfo.port}: request handling failed: ${(err as Error).message}`);
    }
  });

  const bound = main.address();
  return {
    port: bound.port,
    address: bound.address,
    get activeTransfers() {
      return admitter.activeTransfers;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of [...transfers]) t.abort('server closed');
      await new Promise<void>((resolve) => main.close(() => resolve()));
    },
  };
}
