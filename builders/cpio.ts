// The initrd's archive format: cpio "newc" (SVR4, no CRC), as the kernel unpacks it
// (Documentation/driver-api/early-userspace/buffer-format.rst). Pure: entries in, bytes out.
//
// Layout of one member: a 110-byte ASCII header ("070701" + 13 fields of 8 hex digits),
// the NUL-terminated name, padding to a multiple of 4, the data, padding to 4.
// The archive ends with a member named "TRAILER!!!".

export const NEWC_MAGIC = '070701';
export const TRAILER = 'TRAILER!!!';
const HEADER_LEN = 110; // 6 magic + 13 * 8

// st_mode file-type bits (octal, from <sys/stat.h>)
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** The header's fields, in order; encoder and decoder both walk this table. */
export const NEWC_FIELDS = [
  'ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize',
  'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check',
] as const;
export type NewcHeader = Record<(typeof NEWC_FIELDS)[number], number>;

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: Uint8Array }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char' | 'block'; path: string; mode?: number; major: number; minor: number };

export interface DecodedMember {
  name: string;
  header: NewcHeader;
  data: Buffer;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Archive names have no leading slash and no "." or ".." components. */
export function normalizeName(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new Error(`cpio: empty path '${path}'`);
  if (parts.includes('..')) throw new Error(`cpio: path '${path}' contains '..'`);
  return parts.join('/');
}

function encodeHeader(h: NewcHeader): Buffer {
  let s = NEWC_MAGIC;
  for (const f of NEWC_FIELDS) {
    const v = h[f];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`cpio: field ${f}=${v} out of range`);
    s += v.toString(16).toUpperCase().padStart(8, '0');
  }
  return Buffer.from(s, 'ascii');
}

function member(h: Omit<NewcHeader, 'namesize' | 'filesize' | 'check'>, name: string, data: Uint8Array): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const header = encodeHeader({ ...h, namesize: nameBuf.length, filesize: data.length, check: 0 });
  return [
    header,
    nameBuf,
    Buffer.alloc(pad4(HEADER_LEN + nameBuf.length)),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    Buffer.alloc(pad4(data.length)),
  ];
}

/** Sort key that puts a directory right before its contents. */
function compareNames(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * Encode entries as a newc archive. Output depends only on the entries: names are
 * sorted, missing parent directories are added (0755), owners are root, every mtime
 * is `mtime` (default 0) and inode numbers count from 0 in order. Hex is upper-case, as
 * GNU cpio writes it, so `cpio -o -H newc --reproducible` over the same tree gives the same bytes.
 */
export function writeCpio(entries: CpioEntry[], opts: { mtime?: number } = {}): Buffer {
  const mtime = opts.mtime ?? 0;
  const byName = new Map<string, CpioEntry>();
  for (const e of entries) {
    const name = normalizeName(e.path);
    if (byName.has(name)) throw new Error(`cpio: duplicate entry '${name}'`);
    byName.set(name, e);
  }
  for (const name of [...byName.keys()]) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byName.get(dir);
      if (!existing) byName.set(dir, { type: 'dir', path: dir });
      else if (existing.type !== 'dir') throw new Error(`cpio: '${dir}' is needed as a directory but is a ${existing.type}`);
    }
  }
  const names = [...byName.keys()].sort(compareNames);
  const chunks: Buffer[] = [];
  let ino = 0; // as GNU cpio --renumber-inodes
  for (const name of names) {
    const e = byName.get(name)!;
    const base = { ino: ino++, uid: 0, gid: 0, mtime, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 };
    switch (e.type) {
      case 'dir':
        chunks.push(...member({ ...base, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2 }, name, new Uint8Array()));
        break;
      case 'file':
        chunks.push(...member({ ...base, mode: S_IFREG | (e.mode ?? 0o644), nlink: 1 }, name, e.data));
        break;
      case 'symlink':
        chunks.push(...member({ ...base, mode: S_IFLNK | 0o777, nlink: 1 }, name, Buffer.from(e.target, 'utf8')));
        break;
      case 'char':
      case 'block': {
        const type = e.type === 'char' ? S_IFCHR : S_IFBLK;
        const dev = { ...base, rdevmajor: e.major, rdevminor: e.minor };
        chunks.push(...member({ ...dev, mode: type | (e.mode ?? 0o600), nlink: 1 }, name, new Uint8Array()));
        break;
      }
    }
  }
  chunks.push(...member({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 }, TRAILER, new Uint8Array()));
  return Buffer.concat(chunks);
}

/**
 * Decode a newc archive following the kernel's rules: each header starts on a
 * 4-byte boundary, fields are exactly 8 hex digits, names are NUL-terminated,
 * and parsing stops at the trailer. Throws on any violation; used to check output.
 */
export function readCpio(buf: Buffer): DecodedMember[] {
  const out: DecodedMember[] = [];
  let off = 0;
  for (;;) {
    if (off % 4 !== 0) throw new Error(`cpio: member at ${off} is not 4-byte aligned`);
    if (off + HEADER_LEN > buf.length) throw new Error(`cpio: truncated header at ${off}`);
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== NEWC_MAGIC) throw new Error(`cpio: bad magic '${magic}' at ${off}`);
    const header = {} as NewcHeader;
    NEWC_FIELDS.forEach((f, i) => {
      const text = buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new Error(`cpio: field ${f} '${text}' is not hex at ${off}`);
      header[f] = parseInt(text, 16);
    });
    const nameStart = off + HEADER_LEN;
    const nameEnd = nameStart + header.namesize;
    if (header.namesize === 0 || nameEnd > buf.length || buf[nameEnd - 1] !== 0) {
      throw new Error(`cpio: bad name at ${off}`);
    }
    const name = buf.toString('utf8', nameStart, nameEnd - 1);
    const dataStart = nameEnd + pad4(nameEnd);
    const dataEnd = dataStart + header.filesize;
    if (dataEnd > buf.length) throw new Error(`cpio: truncated data for '${name}'`);
    if (name === TRAILER) return out;
    out.push({ name, header, data: buf.subarray(dataStart, dataEnd) });
    off = dataEnd + pad4(dataEnd);
  }
}
