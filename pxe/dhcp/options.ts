// DHCP options: the TLV area codec (pad, end, RFC 3396 long options) and typed
// accessors. Pure: Buffers in, Buffers out.
import { formatIp4, parseIp4 } from '../../cluster/addr.js';
import { Opt } from './constants.js';

/** The only error decode() throws. `reason` is a short stable tag for counting. */
export class DecodeError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Options by code, in first-seen order. Values are the joined bytes (RFC 3396). */
export type DhcpOptions = Map<number, Buffer>;

/** Length rules checked on decode (RFC 2132 sections named per option). */
const FIXED_LEN: Record<number, number> = {
  [Opt.SUBNET_MASK]: 4,
  [Opt.REQUESTED_IP]: 4,
  [Opt.LEASE_TIME]: 4,
  [Opt.OVERLOAD]: 1,
  [Opt.MESSAGE_TYPE]: 1,
  [Opt.SERVER_ID]: 4,
  [Opt.MAX_MESSAGE_SIZE]: 2,
  [Opt.RENEWAL_TIME]: 4,
  [Opt.REBINDING_TIME]: 4,
  [Opt.CLIENT_NDI]: 3,
  [Opt.CLIENT_UUID]: 17,
};
const MULTIPLE_OF: Record<number, number> = { [Opt.ROUTER]: 4, [Opt.DNS]: 4, [Opt.CLIENT_ARCH]: 2 };
/** RFC 2132 9.14: client identifier is at least 2 octets (type + id). */
const MIN_LEN: Record<number, number> = { [Opt.CLIENT_ID]: 2, [Opt.PARAM_REQUEST_LIST]: 1 };

/**
 * Parse one option area (options field, or file/sname when overloaded) into `into`,
 * joining repeated codes in order (RFC 3396 5). Returns whether an end option was seen.
 */
export function parseOptionArea(buf: Buffer, start: number, end: number, into: DhcpOptions, where: string): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END) return true;
    if (i + 1 >= end) throw new DecodeError('option-truncated', `${where}: option ${code} at ${i} has no length octet`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) throw new DecodeError('option-length', `${where}: option ${code} at ${i} claims ${len} octets, only ${end - i - 2} left`);
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
  return false;
}

/** Check lengths of options whose size is fixed by their RFC, after RFC 3396 joining. */
export function checkOptionLengths(opts: DhcpOptions): void {
  for (const [code, v] of opts) {
    const fixed = FIXED_LEN[code];
    if (fixed !== undefined && v.length !== fixed) throw new DecodeError('option-size', `option ${code} must be ${fixed} octets, is ${v.length}`);
    const mult = MULTIPLE_OF[code];
    if (mult !== undefined && (v.length === 0 || v.length % mult !== 0)) throw new DecodeError('option-size', `option ${code} must be a multiple of ${mult} octets, is ${v.length}`);
    const min = MIN_LEN[code];
    if (min !== undefined && v.length < min) throw new DecodeError('option-size', `option ${code} must be at least ${min} octets, is ${v.length}`);
  }
}

/**
 * Serialise options in map order. Values longer than 255 octets become several
 * consecutive instances of the same code (RFC 3396 6). No end option.
 */
export function serializeOptions(opts: DhcpOptions): Buffer {
  const parts: Buffer[] = [];
  for (const [code, v] of opts) {
    if (code === Opt.PAD || code === Opt.END) continue;
    if (v.length === 0) {
      parts.push(Buffer.from([code, 0]));
      continue;
    }
    for (let off = 0; off < v.length; off += 255) {
      const chunk = v.subarray(off, Math.min(off + 255, v.length));
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  return Buffer.concat(parts);
}

// ---- typed values -------------------------------------------------------------

export const u8 = (n: number) => Buffer.from([n & 255]);
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
export function ip(addr: string): Buffer {
  return u32(parseIp4(addr) ?? 0);
}
export const ips = (addrs: string[]) => Buffer.concat(addrs.map(ip));
export const text = (s: string) => Buffer.from(s, 'latin1');

export function getU8(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v && v.length >= 1 ? v[0] : undefined;
}
export function getU16List(o: DhcpOptions, code: number): number[] {
  const v = o.get(code);
  const out: number[] = [];
  if (v) for (let i = 0; i + 1 < v.length; i += 2) out.push(v.readUInt16BE(i));
  return out;
}
export function getU32(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v && v.length >= 4 ? v.readUInt32BE(0) : undefined;
}
export function getIp(o: DhcpOptions, code: number): string | undefined {
  const n = getU32(o, code);
  return n === undefined ? undefined : formatIp4(n);
}
export function getIps(o: DhcpOptions, code: number): string[] {
  const v = o.get(code);
  const out: string[] = [];
  if (v) for (let i = 0; i + 3 < v.length; i += 4) out.push(formatIp4(v.readUInt32BE(i)));
  return out;
}
/** Text value; a trailing NUL (some clients add one) is dropped. */
export function getText(o: DhcpOptions, code: number): string | undefined {
  const v = o.get(code);
  return v ? v.toString('latin1').replace(/\0+$/, '') : undefined;
}

// ---- encapsulated sub-options (43, 82, 175) -------------------------------------

/** Decode a sub-option block; undefined if it is not well formed. */
export function decodeSubOptions(buf: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  try {
    parseOptionArea(buf, 0, buf.length, out, 'sub-options');
  } catch {
    return undefined;
  }
  return out;
}

/** Encode sub-options followed by an end marker (PXE 2.1 table 2-1 ends option 43 with 255). */
export function encodeSubOptions(subs: Map<number, Buffer>, withEnd = true): Buffer {
  const body = serializeOptions(subs);
  return withEnd ? Buffer.concat([body, Buffer.from([Opt.END])]) : body;
}
