// BOOTP/DHCP message codec (RFC 2131 2, RFC 2132, RFC 3396). Pure: decode(buf) and
// encode(msg), no sockets, timers or logging. decode() throws only DecodeError.
import { formatIp4, parseIp4 } from '../../cluster/addr.js';
import { BOOTP_MIN_LEN, BOOTREPLY, BOOTREQUEST, ETHERNET_HLEN, HTYPE_ETHERNET, MAGIC_COOKIE, Opt } from './constants.js';
import { checkOptionLengths, DecodeError, parseOptionArea, serializeOptions, type DhcpOptions } from './options.js';

export { DecodeError } from './options.js';
export type { DhcpOptions } from './options.js';

export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-octet chaddr field; the MAC is its first `hlen` octets. */
  chaddr: Buffer;
  /** Server host name (NUL-terminated text), empty when overloaded with options. */
  sname: string;
  /** Boot file name (NUL-terminated text), empty when overloaded with options. */
  file: string;
  options: DhcpOptions;
}

type Kind = 'u8' | 'u16' | 'u32' | 'ip' | 'bytes' | 'cstr';
type HeaderKey = Exclude<keyof DhcpMessage, 'options'>;

/** The fixed BOOTP header, RFC 2131 figure 1: one table drives both directions. */
const HEADER: ReadonlyArray<readonly [HeaderKey, number, number, Kind]> = [
  ['op', 0, 1, 'u8'],
  ['htype', 1, 1, 'u8'],
  ['hlen', 2, 1, 'u8'],
  ['hops', 3, 1, 'u8'],
  ['xid', 4, 4, 'u32'],
  ['secs', 8, 2, 'u16'],
  ['flags', 10, 2, 'u16'],
  ['ciaddr', 12, 4, 'ip'],
  ['yiaddr', 16, 4, 'ip'],
  ['siaddr', 20, 4, 'ip'],
  ['giaddr', 24, 4, 'ip'],
  ['chaddr', 28, 16, 'bytes'],
  ['sname', 44, 64, 'cstr'],
  ['file', 108, 128, 'cstr'],
];
const COOKIE_AT = 236;
const OPTIONS_AT = 240;
const SNAME = HEADER.find((f) => f[0] === 'sname')!;
const FILE = HEADER.find((f) => f[0] === 'file')!;

/** Option 52 values (RFC 2132 9.3). */
const OVERLOAD_FILE = 1; // u8 bit
const OVERLOAD_SNAME = 2; // u8 bit

function readField(buf: Buffer, at: number, size: number, kind: Kind): number | string | Buffer {
  switch (kind) {
    case 'u8':
      return buf[at]!;
    case 'u16':
      return buf.readUInt16BE(at);
    case 'u32':
      return buf.readUInt32BE(at);
    case 'ip':
      return formatIp4(buf.readUInt32BE(at));
    case 'bytes':
      return Buffer.from(buf.subarray(at, at + size));
    case 'cstr': {
      const raw = buf.subarray(at, at + size);
      const nul = raw.indexOf(0);
      return raw.subarray(0, nul < 0 ? size : nul).toString('latin1');
    }
  }
}

function writeField(buf: Buffer, at: number, size: number, kind: Kind, value: unknown, key: string): void {
  switch (kind) {
    case 'u8':
      buf[at] = Number(value) & 255;
      return;
    case 'u16':
      buf.writeUInt16BE(Number(value) & 0xffff, at);
      return;
    case 'u32':
      buf.writeUInt32BE(Number(value) >>> 0, at);
      return;
    case 'ip': {
      const n = parseIp4(String(value));
      if (n === undefined) throw new Error(`encode: ${key} is not an IPv4 address: ${String(value)}`);
      buf.writeUInt32BE(n, at);
      return;
    }
    case 'bytes':
      (value as Buffer).copy(buf, at, 0, Math.min(size, (value as Buffer).length));
      return;
    case 'cstr': {
      const b = Buffer.from(String(value), 'latin1');
      // Leave room for the terminating NUL.
      if (b.length >= size) throw new Error(`encode: ${key} is ${b.length} octets, the field holds ${size - 1}`);
      b.copy(buf, at);
      return;
    }
  }
}

/** Decode a BOOTP/DHCP message. Throws DecodeError, and nothing else, on anything malformed. */
export function decode(buf: Buffer): DhcpMessage {
  try {
    return decodeStrict(buf);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    // A bug here must not take a server down: report it as a decode failure.
    throw new DecodeError('internal', `decode failed: ${(err as Error).message}`);
  }
}

function decodeStrict(buf: Buffer): DhcpMessage {
  if (buf.length < OPTIONS_AT) throw new DecodeError('short', `message is ${buf.length} octets, a BOOTP header with cookie needs ${OPTIONS_AT}`);
  const msg = {} as Record<string, unknown>;
  for (const [key, at, size, kind] of HEADER) msg[key] = readField(buf, at, size, kind);
  const m = msg as unknown as DhcpMessage;
  if (m.op !== BOOTREQUEST && m.op !== BOOTREPLY) throw new DecodeError('op', `op is ${m.op}, must be 1 or 2`);
  // RFC 2131 2: chaddr is 16 octets; for Ethernet (RFC 1700) hlen is 6.
  if (m.hlen > 16 || m.hlen === 0) throw new DecodeError('hlen', `hlen is ${m.hlen}, must be 1..16`);
  if (m.htype === HTYPE_ETHERNET && m.hlen !== ETHERNET_HLEN) throw new DecodeError('hlen', `Ethernet htype with hlen ${m.hlen}`);
  if (buf.readUInt32BE(COOKIE_AT) !== MAGIC_COOKIE) throw new DecodeError('cookie', `bad magic cookie 0x${buf.readUInt32BE(COOKIE_AT).toString(16)}`);

  const options: DhcpOptions = new Map();
  // RFC 2131 4.1: the options field must end with the end option.
  if (!parseOptionArea(buf, OPTIONS_AT, buf.length, options, 'options')) throw new DecodeError('no-end', 'options field has no end option');
  // RFC 2132 9.3 / RFC 3396 7: with option 52, file then sname hold more options;
  // the aggregate buffer is options, file, sname, in that order.
  const overload = options.get(Opt.OVERLOAD);
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) throw new DecodeError('overload', `option 52 must be one octet 1..3`);
    const flags = overload[0]!;
    if (flags & OVERLOAD_FILE) {
      parseOptionArea(buf, FILE[1], FILE[1] + FILE[2], options, 'file');
      m.file = '';
    }
    if (flags & OVERLOAD_SNAME) {
      parseOptionArea(buf, SNAME[1], SNAME[1] + SNAME[2], options, 'sname');
      m.sname = '';
    }
  }
  checkOptionLengths(options);
  m.options = options;
  return m;
}

export interface EncodeOptions {
  /**
   * The most octets the receiver accepts as a DHCP message (the UDP payload); see
   * maxReplySize() in reply.ts for how option 57 turns into this. Unlimited if absent.
   */
  maxSize?: number;
}

/**
 * Encode a message. Options go in map order into the options field, long values
 * split per RFC 3396, closed by the end option, and the message is padded with
 * zeros to the BOOTP minimum of 300 octets (RFC 1542 2.1). When the options do not
 * fit in `maxSize`, the rest go into the file and then the sname field, if those
 * are empty, announced by option 52 (RFC 2132 9.3); throws if even that is not enough.
 */
export function encode(msg: DhcpMessage, eo: EncodeOptions = {}): Buffer {
  const opts = serializeOptions(msg.options);
  const limit = eo.maxSize ?? Infinity;
  if (OPTIONS_AT + opts.length + 1 <= limit) {
    const buf = header(msg, Math.max(BOOTP_MIN_LEN, OPTIONS_AT + opts.length + 1));
    opts.copy(buf, OPTIONS_AT);
    buf[OPTIONS_AT + opts.length] = Opt.END;
    return buf;
  }
  return encodeOverloaded(msg, limit);
}

function header(msg: DhcpMessage, len: number): Buffer {
  const buf = Buffer.alloc(len);
  for (const [key, at, size, kind] of HEADER) writeField(buf, at, size, kind, msg[key], key);
  buf.writeUInt32BE(MAGIC_COOKIE, COOKIE_AT);
  return buf;
}

interface Area {
  start: number;
  /** One past the last octet options may use (the end option comes after). */
  end: number;
  at: number;
  flag: number;
}

/**
 * RFC 2132 9.3, RFC 3396 7: fill the options field, then file, then sname, in that
 * order (the order a receiver joins them in). An option moves whole to the next area
 * when it does not fit in what is left of this one; only an option too long for any
 * area is split, at area boundaries, into instances a receiver joins (RFC 3396 6).
 */
function encodeOverloaded(msg: DhcpMessage, limit: number): Buffer {
  const OVERLOAD_OPT_LEN = 3; // code, length, value
  if (limit < OPTIONS_AT + OVERLOAD_OPT_LEN + 1) throw new Error(`encode: maximum message size ${limit} leaves no room for options`);
  const areas: Area[] = [{ start: OPTIONS_AT, end: limit - 1, at: OPTIONS_AT + OVERLOAD_OPT_LEN, flag: 0 }];
  if (!msg.file) areas.push({ start: FILE[1], end: FILE[1] + FILE[2] - 1, at: FILE[1], flag: OVERLOAD_FILE });
  if (!msg.sname) areas.push({ start: SNAME[1], end: SNAME[1] + SNAME[2] - 1, at: SNAME[1], flag: OVERLOAD_SNAME });
  const buf = header(msg, Math.max(BOOTP_MIN_LEN, limit));
  let k = 0;
  const room = () => areas[k]!.end - areas[k]!.at;
  const fail = (code: number) => new Error(`encode: options do not fit in ${limit} octets even in the file and sname fields (option ${code} and after left over)`);
  for (const [code, v] of msg.options) {
    if (code === Opt.PAD || code === Opt.END || code === Opt.OVERLOAD) continue;
    const whole = 2 * Math.max(1, Math.ceil(v.length / 255)) + v.length;
    // Move on rather than split an option that would fit whole somewhere later.
    while (room() < whole && areas.slice(k + 1).some((a) => a.end - a.at >= whole)) k++;
    let off = 0;
    do {
      while (k < areas.length && room() < (v.length === 0 ? 2 : 3)) k++;
      if (k >= areas.length) throw fail(code);
      const a = areas[k]!;
      const n = Math.min(255, v.length - off, room() - 2);
      buf[a.at] = code;
      buf[a.at + 1] = n;
      v.copy(buf, a.at + 2, off, off + n);
      a.at += 2 + n;
      off += n;
    } while (off < v.length);
  }
  let flags = 0;
  for (const a of areas) {
    if (a.flag && a.at === a.start) continue;
    buf[a.at] = Opt.END;
    flags |= a.flag;
  }
  buf[OPTIONS_AT] = Opt.OVERLOAD;
  buf[OPTIONS_AT + 1] = 1;
  buf[OPTIONS_AT + 2] = flags;
  const used = areas[0]!.at + 1;
  return buf.subarray(0, Math.max(BOOTP_MIN_LEN, used));
}

/** The client's hardware address as lower-case colon text (first hlen octets). */
export function clientMac(msg: Pick<DhcpMessage, 'chaddr' | 'hlen'>): string {
  return [...msg.chaddr.subarray(0, Math.min(msg.hlen, 16))].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A blank message with every header field zero, for building requests and replies. */
export function emptyMessage(op: number): DhcpMessage {
  return {
    op,
    htype: HTYPE_ETHERNET,
    hlen: ETHERNET_HLEN,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new Map(),
  };
}
