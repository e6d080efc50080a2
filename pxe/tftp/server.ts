// Read-only TFTP server: the listening socket takes requests, checks them, and
// hands each admitted one to a Transfer on a socket of its own.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { realpath, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { silentLogger, type Logger } from '../../lib/log.js';
import { Admitter, ReplyBudget } from './limits.js';
import { DEFAULT_LIMITS, negotiate, type Negotiated } from './options.js';
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
  /** The boot step the file is (shim, grub, kernel, ...), when the generator says. */
  step?: string;
}

export interface TftpClientInfo {
  address: string;
  port: number;
}

/** A file made or opened on request, with the boot step it is (copied into its event). */
export type Generated = { step?: string } & ({ bytes: Buffer } | { fh: FileHandle; size: number });

/** Files made on request (per-node boot scripts, the boot chain, artifacts); undefined means "look in the root". */
export type GenerateFile = (path: string, client: TftpClientInfo) => Promise<Buffer | Readable | Generated | undefined>;

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
  /** The largest RFC 2349 `timeout` we use, in seconds; a client asking more is told this value in the OACK. */
  maxTimeoutS?: number;
  /** How long an un-ACKed OACK holds its slot, in all (ms). */
  oackWaitMs?: number;
  /** A transfer's whole life is capped at lifetimeFloorMs plus its size at lifetimeBytesPerSec. */
  lifetimeFloorMs?: number;
  lifetimeBytesPerSec?: number;
  createSocket?: () => Socket;
  clock?: Clock;
}

export interface TftpServer {
  port: number;
  address: string;
  readonly activeTransfers: number;
  /** Transfers ended to make room for a new request: un-ACKed ones, oldest first, when every slot was taken. */
  readonly evictions: number;
  close(): Promise<void>;
}

const SEND_BUFFER = 4 * 1024 * 1024; // octets per transfer socket, for windows of large blocks
const ERROR_REPLIES_PER_SEC = 2000; // cap on ERRORs the listening socket sends, so it is no flood amplifier
const OACK_WAIT_MS = 15_000; // an OACK and its resend at 6 s, while the client resends ACK 0 or its RRQ (5 s for atftp and tftp-hpa)
const LIFETIME_FLOOR_MS = 60_000;
const LIFETIME_BYTES_PER_SEC = 32 * 1024; // 512-octet lock-step at a 16 ms round trip

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
  const createSocket = opts.createSocket ?? (() => dgram.createSocket({ type: 'udp4', lookup: literalLookup }));
  const address = opts.address ?? '0.0.0.0';
  const realRoot = await realpath(opts.root);
  const main = createSocket();
  const log = opts.log ?? silentLogger();
  main.on('error', (err) => log.warn(`tftp: listening socket: ${err.message}`));
  await bind(main, opts.port ?? TFTP_PORT, address);
  const server = new ReadServer(opts, { main, createSocket, address, realRoot, log });
  main.on('message', (buf, rinfo) => {
    try {
      server.onRequest(buf, rinfo);
    } catch (err) {
      log.warn(`tftp ${rinfo.address}:${rinfo.port}: request handling failed: ${(err as Error).message}`);
    }
  });
  return server;
}

/** What the listening socket does with a datagram: start a read, answer an ERROR, or nothing. */
export type Screened = { kind: 'read'; req: TftpRequest } | { kind: 'refuse'; code: number; message: string; malformed?: boolean } | { kind: 'drop' };

/** Check a datagram sent to the listening socket. Pure. */
export function screenRequest(buf: Buffer): Screened {
  const op = peekOpcode(buf);
  // RFC 1350 §7: ERROR packets are never answered; nor is a packet too short to name its kind.
  if (op === undefined || op === OP_ERROR) return { kind: 'drop' };
  let msg: TftpMessage;
  try {
    msg = decode(buf);
  } catch (err) {
    return { kind: 'refuse', code: err instanceof TftpDecodeError ? err.code : ERR_ILLEGAL_OP, message: (err as Error).message, malformed: true };
  }
  // This server only reads; RFC 1350 §5 has "access violation" for a refused write.
  if (msg.op === OP_WRQ) return { kind: 'refuse', code: ERR_ACCESS, message: 'read-only server' };
  if (msg.op !== OP_RRQ) return { kind: 'refuse', code: ERR_ILLEGAL_OP, message: 'expected a read request' };
  if (msg.mode === 'mail') return { kind: 'refuse', code: ERR_ILLEGAL_OP, message: "mode 'mail' is not supported" };
  return { kind: 'read', req: msg };
}

interface Endpoints {
  main: Socket;
  createSocket: () => Socket;
  address: string;
  realRoot: string;
  log: Logger;
}

/** The listening socket's side: admit requests, answer refusals, start and track transfers. */
class ReadServer implements TftpServer {
  readonly port: number;
  readonly address: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly limits: { maxBlksize: number; maxWindowsize: number; defaultTimeoutMs: number; maxTimeoutS: number };
  private readonly admitter: Admitter;
  private readonly errorReplies = new ReplyBudget(ERROR_REPLIES_PER_SEC);
  private readonly transfers = new Set<Transfer>();
  private closed = false;
  evictions = 0;

  constructor(
    private readonly opts: TftpServerOptions,
    private readonly io: Endpoints,
  ) {
    const bound = io.main.address();
    this.port = bound.port;
    this.address = bound.address;
    this.clock = opts.clock ?? realClock;
    this.log = io.log;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_LIMITS.defaultTimeoutMs;
    this.limits = {
      maxBlksize: opts.maxBlksize ?? MAX_BLKSIZE,
      maxWindowsize: opts.maxWindowsize ?? DEFAULT_LIMITS.maxWindowsize,
      defaultTimeoutMs: timeoutMs,
      maxTimeoutS: opts.maxTimeoutS ?? DEFAULT_LIMITS.maxTimeoutS,
    };
    this.admitter = new Admitter({
      maxTransfers: opts.maxTransfers ?? 256,
      maxPerClient: opts.maxPerClient ?? 16,
      ratePerSec: opts.ratePerSec ?? 50,
      burst: opts.burst ?? 100,
    });
  }

  get activeTransfers(): number {
    return this.admitter.activeTransfers;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [...this.transfers]) t.abort('server closed');
    await new Promise<void>((resolve) => this.io.main.close(() => resolve()));
  }

  onRequest(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const s = screenRequest(buf);
    if (s.kind === 'drop') return;
    if (s.kind === 'refuse') {
      if (s.malformed) this.log.debug(`tftp ${rinfo.address}:${rinfo.port}: malformed packet: ${s.message}`);
      return this.replyError(rinfo, s.code, s.message);
    }
    const adm = this.admitter.admit(rinfo.address, this.clock.now(), this.evictUnconfirmed);
    if (!adm.ok) {
      this.log.debug(`tftp ${rinfo.address}:${rinfo.port} ${s.req.filename}: refused: ${adm.reason}`);
      return this.replyError(rinfo, ERR_UNDEFINED, adm.reason);
    }
    this.startTransfer(s.req, rinfo).catch((err: Error) => this.log.warn(`tftp: transfer setup: ${err.message}`));
  }

  // Requests that were never acknowledged (forged, or from a client that went away) must not
  // lock real clients out: when every slot is taken, the oldest of them gives its slot up.
  private readonly evictUnconfirmed = (): boolean => {
    for (const t of this.transfers) {
      if (t.confirmed) continue;
      this.evictions++;
      t.abort('server busy: a new request took the slot of this unacknowledged transfer', true);
      return true;
    }
    return false;
  };

  private replyError(rinfo: RemoteInfo, code: number, message: string): void {
    if (!this.errorReplies.take(this.clock.now())) return;
    try {
      this.io.main.send(encodeError(code, message), rinfo.port, rinfo.address);
    } catch {
      // closing
    }
  }

  private report(e: TftpEvent): void {
    const what = e.status === 'done' ? `sent ${e.bytes} bytes in ${Math.round(e.ms)} ms` : `failed after ${e.bytes} bytes: ${e.error}`;
    this.log.info(`tftp ${e.client} ${e.file}: ${what} (blksize ${e.blksize}, windowsize ${e.windowsize})`);
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      this.log.warn(`tftp: onEvent threw: ${(err as Error).message}`);
    }
  }

  /** An admitted read: open the file, negotiate, open a socket of its own, run the Transfer. */
  private async startTransfer(req: TftpRequest, rinfo: RemoteInfo): Promise<void> {
    const started = this.clock.now();
    const client = `${rinfo.address}:${rinfo.port}`;
    let file = req.filename;
    let settings = negotiate(req.options, { size: undefined, mode: req.mode }, this.limits);
    const end = (r: TransferResult) => {
      this.admitter.release(rinfo.address);
      const { blksize, windowsize } = settings;
      this.report({ kind: 'tftp', client, file, status: r.status, bytes: r.bytes, ms: this.clock.now() - started, blksize, windowsize, ...(r.error !== undefined ? { error: r.error } : {}), ...(step ? { step } : {}) });
    };
    const fail = (code: number, message: string) => {
      this.replyError(rinfo, code, message);
      end({ status: 'error', bytes: 0, error: message });
    };
    let src: ChunkSource;
    let size: number | undefined;
    let step: string | undefined;
    try {
      file = cleanName(req.filename);
      const opened = await openSource(this.opts.generate, this.io.realRoot, file, rinfo);
      size = opened.size;
      step = opened.step;
      // Netascii changes the length, so a size known for the file is not the size sent.
      settings = negotiate(req.options, { size: req.mode === 'netascii' ? undefined : opened.size, mode: req.mode }, this.limits);
      src = opened.make(settings.blksize);
      if (req.mode === 'netascii') src = netasciiSource(src);
    } catch (err) {
      if (err instanceof PathRefused) fail(err.code, err.message);
      else fail(ERR_UNDEFINED, `cannot read '${file}': ${(err as Error).message}`);
      return;
    }
    let sock: Socket;
    try {
      sock = await this.transferSocket();
    } catch (err) {
      await src.close().catch(() => undefined);
      fail(ERR_UNDEFINED, `no transfer socket: ${(err as Error).message}`);
      return;
    }
    this.run(sock, rinfo, src, settings, size, end);
  }

  private async transferSocket(): Promise<Socket> {
    if (this.closed) throw new Error('server is closing');
    const sock = this.io.createSocket();
    await bind(sock, 0, this.io.address);
    try {
      sock.setSendBufferSize(SEND_BUFFER);
    } catch {
      // capped by net.core.wmem_max; libuv queues what does not fit
    }
    return sock;
  }

  private run(socket: Socket, rinfo: RemoteInfo, src: ChunkSource, settings: Negotiated, size: number | undefined, end: (r: TransferResult) => void): void {
    const transfer: Transfer = new Transfer({
      socket,
      peer: { address: rinfo.address, port: rinfo.port },
      blocks: new BlockBuffer(src, settings.blksize),
      oack: settings.oack,
      windowsize: settings.windowsize,
      timeoutMs: settings.timeoutMs,
      maxTimeoutMs: settings.timeoutMs * 8,
      retries: this.opts.retries ?? 5,
      oackWaitMs: this.opts.oackWaitMs ?? OACK_WAIT_MS,
      lifetime: { floorMs: this.opts.lifetimeFloorMs ?? LIFETIME_FLOOR_MS, bytesPerSec: this.opts.lifetimeBytesPerSec ?? LIFETIME_BYTES_PER_SEC, size },
      clock: this.clock,
      onEnd: (r: TransferResult) => {
        this.transfers.delete(transfer);
        end(r);
      },
    });
    this.transfers.add(transfer);
    transfer.start();
  }
}

/** The bytes to send for `name`: made on request by `generate`, else the file in the root, opened once. */
async function openSource(generate: GenerateFile | undefined, realRoot: string, name: string, rinfo: RemoteInfo): Promise<{ size: number | undefined; step?: string; make: (blksize: number) => ChunkSource }> {
  const generated = generate ? await generate(name, { address: rinfo.address, port: rinfo.port }) : undefined;
  if (Buffer.isBuffer(generated)) return { size: generated.length, make: () => bufferSource(generated) };
  if (generated && 'bytes' in generated) return { size: generated.bytes.length, step: generated.step, make: () => bufferSource(generated.bytes) };
  if (generated && 'fh' in generated) return { size: generated.size, step: generated.step, make: (blksize) => fileSource(generated.fh, blksize) };
  if (generated) return { size: undefined, make: () => streamSource(generated) };
  const file = await openInRoot(realRoot, name); // opened once: later changes to the root do not reach this transfer
  return { size: file.size, make: (blksize) => fileSource(file.fh, blksize) };
}
