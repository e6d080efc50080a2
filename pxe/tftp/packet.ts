// TFTP wire codec (RFC 1350 packets, RFC 2347 OACK/options, RFC 2348 blksize,
// RFC 2349 timeout/tsize, RFC 7440 windowsize). Pure: Buffers in, Buffers out.
//
//   opcode  layout after the 2-byte opcode
//   RRQ/WRQ filename NUL mode NUL [name NUL value NUL]...
//   DATA    block:uint16 data:0..blksize
//   ACK     block:uint16                    (exactly 4 bytes)
//   ERROR   code:uint16 message NUL
//   OACK    [name NUL value NUL]...

export const OP_RRQ = 1; // uint16
export const OP_WRQ = 2; // uint16
export const OP_DATA = 3; // uint16
export const OP_ACK = 4; // uint16
export const OP_ERROR = 5; // uint16
export const OP_OACK = 6; // uint16 (RFC 2347)

// RFC 1350 §5 error codes, plus 8 from RFC 2347.
export const ERR_UNDEFINED = 0; // uint16
export const ERR_NOT_FOUND = 1; // uint16
export const ERR_ACCESS = 2; // uint16
export const ERR_DISK_FULL = 3; // uint16
export const ERR_ILLEGAL_OP = 4; // uint16
export const ERR_UNKNOWN_TID = 5; // uint16
export const ERR_EXISTS = 6; // uint16
export const ERR_NO_USER = 7; // uint16
export const ERR_OPTIONS = 8; // uint16 (RFC 2347 §2)

export const DEFAULT_BLKSIZE = 512; // octets (RFC 1350 §2)
export const MIN_BLKSIZE = 8; // octets (RFC 2348)
export const MAX_BLKSIZE = 65464; // octets (RFC 2348)
export const MIN_TIMEOUT = 1; // seconds (RFC 2349 §3)
export const MAX_TIMEOUT = 255; // seconds (RFC 2349 §3)
export const MIN_WINDOWSIZE = 1; // blocks (RFC 7440 §3)
export const MAX_WINDOWSIZE = 65535; // blocks (RFC 7440 §3)
export const BLOCK_MODULO = 0x10000; // uint16 block numbers wrap to 0

const HEADER = 4; // octets: opcode + block/code
export const ACK_LENGTH = HEADER; // octets: an ACK is just opcode + block
const NUL = 0;

export type TftpMode = 'netascii' | 'octet' | 'mail';
const MODES: readonly TftpMode[] = ['netascii', 'octet', 'mail'];

/** Options known to this codec are typed and range-checked; others are kept as text (lower-case names). */
export interface TftpOptions {
  blksize?: number;
  tsize?: number;
  timeout?: number;
  windowsize?: number;
  other?: Record<string, string>;
}

export interface TftpRequest {
  op: typeof OP_RRQ | typeof OP_WRQ;
  filename: string;
  mode: TftpMode;
  options: TftpOptions;
}

export type TftpMessage =
  | TftpRequest
  | { op: typeof OP_DATA; block: number; data: Buffer }
  | { op: typeof OP_ACK; block: number }
  | { op: typeof OP_ERROR; code: number; message: string }
  | { op: typeof OP_OACK; options: TftpOptions };

/** Why a packet could not be decoded, and the ERROR code a reply would carry. */
export class TftpDecodeError extends Error {
  constructor(
    message: string,
    readonly code: number = ERR_ILLEGAL_OP,
  ) {
    super(message);
    this.name = 'TftpDecodeError';
  }
}

interface IntRange {
  min: number;
  max: number;
}
// RFC 2349 §2: tsize is a size in octets; any non-negative integer is valid text.
const KNOWN: Record<'blksize' | 'tsize' | 'timeout' | 'windowsize', IntRange> = {
  blksize: { min: MIN_BLKSIZE, max: MAX_BLKSIZE },
  tsize: { min: 0, max: Number.MAX_SAFE_INTEGER },
  timeout: { min: MIN_TIMEOUT, max: MAX_TIMEOUT },
  windowsize: { min: MIN_WINDOWSIZE, max: MAX_WINDOWSIZE },
};
type KnownName = keyof typeof KNOWN;
const isKnown = (n: string): n is KnownName => Object.hasOwn(KNOWN, n);

/** Read the opcode without decoding the rest; undefined when the buffer is too short. */
export function peekOpcode(buf: Buffer): number | undefined {
  return buf.length >= 2 ? buf.readUInt16BE(0) : undefined;
}

export function decode(buf: Buffer): TftpMessage {
  const op = peekOpcode(buf);
  if (op === undefined) throw new TftpDecodeError(`packet of ${buf.length} bytes is shorter than an opcode`);
  switch (op) {
    case OP_RRQ:
    case OP_WRQ: {
      const fields = splitStrings(buf, 2);
      const [filename, mode, ...rest] = fields;
      if (filename === undefined || mode === undefined) throw new TftpDecodeError('request needs a filename and a mode');
      if (filename === '') throw new TftpDecodeError('empty filename');
      const m = mode.toLowerCase();
      if (!MODES.includes(m as TftpMode)) throw new TftpDecodeError(`unknown transfer mode '${mode}'`);
      return { op, filename, mode: m as TftpMode, options: decodeOptions(rest) };
    }
    case OP_DATA:
      if (buf.length < HEADER) throw new TftpDecodeError(`DATA of ${buf.length} bytes has no block number`);
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(HEADER) };
    case OP_ACK:
      if (buf.length !== HEADER) throw new TftpDecodeError(`ACK must be 4 bytes, got ${buf.length}`);
      return { op, block: buf.readUInt16BE(2) };
    case OP_ERROR: {
      if (buf.length < HEADER + 1) throw new TftpDecodeError(`ERROR of ${buf.length} bytes is truncated`);
      const end = buf.indexOf(NUL, HEADER);
      if (end < 0) throw new TftpDecodeError('ERROR message is not NUL-terminated');
      return { op, code: buf.readUInt16BE(2), message: buf.toString('latin1', HEADER, end) };
    }
    case OP_OACK:
      return { op, options: decodeOptions(splitStrings(buf, 2)) };
    default:
      throw new TftpDecodeError(`unknown opcode ${op}`);
  }
}

/** NUL-terminated strings from `start`; zero padding after the last one is tolerated. */
function splitStrings(buf: Buffer, start: number): string[] {
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const end = buf.indexOf(NUL, pos);
    if (end < 0) throw new TftpDecodeError(`field at byte ${pos} is not NUL-terminated`);
    out.push(buf.toString(out.length === 0 ? 'utf8' : 'latin1', pos, end));
    pos = end + 1;
  }
  while (out.length > 0 && out[out.length - 1] === '' && out.length % 2 === 1) out.pop();
  return out;
}

// RFC 2347 §2: option names are case-insensitive; values are decimal text for the known ones.
function decodeOptions(pairs: string[]): TftpOptions {
  if (pairs.length % 2 !== 0) throw new TftpDecodeError(`option '${pairs[pairs.length - 1]}' has no value`, ERR_OPTIONS);
  const opts: TftpOptions = {};
  const seen = new Set<string>();
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    const value = pairs[i + 1]!;
    if (name === '') throw new TftpDecodeError('empty option name', ERR_OPTIONS);
    if (seen.has(name)) throw new TftpDecodeError(`option '${name}' given twice`, ERR_OPTIONS);
    seen.add(name);
    if (isKnown(name)) opts[name] = parseIntOption(name, value, KNOWN[name]);
    else (opts.other ??= {})[name] = value;
  }
  return opts;
}

function parseIntOption(name: string, value: string, range: IntRange): number {
  if (!/^[0-9]{1,16}$/.test(value)) throw new TftpDecodeError(`option ${name}: '${value}' is not a decimal number`, ERR_OPTIONS);
  const n = Number(value);
  if (n < range.min || n > range.max) throw new TftpDecodeError(`option ${name}: ${n} is outside ${range.min}..${range.max}`, ERR_OPTIONS);
  return n;
}

function optionPairs(o: TftpOptions): string[] {
  const out: string[] = [];
  for (const k of Object.keys(KNOWN) as KnownName[]) {
    const v = o[k];
    if (v !== undefined) out.push(k, String(v));
  }
  for (const [k, v] of Object.entries(o.other ?? {})) out.push(k.toLowerCase(), v);
  return out;
}

function encodeStrings(op: number, strings: string[], firstUtf8: boolean): Buffer {
  const parts = strings.map((s, i) => Buffer.from(s, i === 0 && firstUtf8 ? 'utf8' : 'latin1'));
  if (parts.some((p) => p.includes(NUL))) throw new Error('TFTP strings cannot contain NUL');
  const out = Buffer.alloc(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out.writeUInt16BE(op, 0);
  let pos = 2;
  for (const p of parts) {
    p.copy(out, pos);
    pos += p.length + 1;
  }
  return out;
}

export function encode(msg: TftpMessage): Buffer {
  switch (msg.op) {
    case OP_RRQ:
    case OP_WRQ:
      return encodeStrings(msg.op, [msg.filename, msg.mode, ...optionPairs(msg.options)], true);
    case OP_OACK:
      return encodeStrings(msg.op, optionPairs(msg.options), false);
    case OP_DATA: {
      const out = Buffer.allocUnsafe(HEADER + msg.data.length);
      out.writeUInt16BE(OP_DATA, 0);
      out.writeUInt16BE(msg.block & 0xffff, 2);
      msg.data.copy(out, HEADER);
      return out;
    }
    case OP_ACK: {
      const out = Buffer.allocUnsafe(HEADER);
      out.writeUInt16BE(OP_ACK, 0);
      out.writeUInt16BE(msg.block & 0xffff, 2);
      return out;
    }
    case OP_ERROR: {
      const text = Buffer.from(msg.message.replace(/\0/g, ''), 'latin1');
      const out = Buffer.alloc(HEADER + text.length + 1);
      out.writeUInt16BE(OP_ERROR, 0);
      out.writeUInt16BE(msg.code, 2);
      text.copy(out, HEADER);
      return out;
    }
  }
}

/** A DATA packet for an absolute (un-wrapped) block number, as one Buffer (a copy of `data`). */
export function encodeData(absBlock: number, data: Buffer): Buffer {
  return encode({ op: OP_DATA, block: absBlock % BLOCK_MODULO, data });
}

/**
 * Just the 4-byte DATA header for an absolute block number: the server's hot path sends
 * `[dataHeader(n), data]` as one datagram (scatter/gather), so the block is never copied.
 */
export function dataHeader(absBlock: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER);
  out[0] = 0;
  out[1] = OP_DATA;
  out[2] = (absBlock >>> 8) & 0xff; // uint16, wrapped
  out[3] = absBlock & 0xff;
  return out;
}

export function encodeError(code: number, message: string): Buffer {
  return encode({ op: OP_ERROR, code, message });
}
