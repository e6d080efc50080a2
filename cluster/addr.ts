// IPv4 and MAC address helpers shared by the inventory, DHCP and the boot scripts.

/** Parse dotted-quad IPv4 to an unsigned 32-bit number; undefined if malformed. */
export function parseIp4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  mask: number;
  broadcast: number;
}

export function parseCidr(s: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIp4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ip & mask) >>> 0;
  return { network, prefix, mask, broadcast: (network | (~mask >>> 0)) >>> 0 };
}

export function inCidr(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.network;
}

/**
 * Normalise a MAC written any common way (52:54:00:AB:CD:EF, 52-54-00-ab-cd-ef,
 * 5254.00ab.cdef, 525400abcdef) to lower-case colon form; undefined if malformed.
 */
export function normalizeMac(s: string): string | undefined {
  const hex = s.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  const sep = s.trim().match(/[:.-]/g);
  // Separators, if any, must split the digits into one consistent pattern.
  if (sep && !/^[0-9a-f]{2}([:-])([0-9a-f]{2}\1){4}[0-9a-f]{2}$/i.test(s.trim()) && !/^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/i.test(s.trim())) return undefined;
  return hex.match(/../g)!.join(':');
}

export function macToBuffer(mac: string): Buffer {
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}
