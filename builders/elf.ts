// Just enough ELF to read a kernel module's sections: the header fields that locate
// the section header table, and each section's name, offset and size. Pure: bytes in.

/** Offset and width (bytes) of each field, for ELFCLASS32 and ELFCLASS64 (elf(5)). */
const LAYOUT = {
  32: { shoff: [0x20, 4], shentsize: [0x2e, 2], shnum: [0x30, 2], shstrndx: [0x32, 2], name: [0, 4], offset: [16, 4], size: [20, 4] },
  64: { shoff: [0x28, 8], shentsize: [0x3a, 2], shnum: [0x3c, 2], shstrndx: [0x3e, 2], name: [0, 4], offset: [24, 8], size: [32, 8] },
} as const;

const ELF_MAGIC = 0x7f454c46; // "\x7fELF"
const ELFCLASS64 = 2; // e_ident[EI_CLASS]
const ELFDATA2LSB = 1; // e_ident[EI_DATA]

export interface ElfSection {
  name: string;
  offset: number;
  size: number;
}

export class NotElfError extends Error {}

/** The sections of an ELF file, by name. Throws NotElfError when the bytes are not a well-formed ELF. */
export function elfSections(buf: Buffer): ElfSection[] {
  if (buf.length < 0x40 || buf.readUInt32BE(0) !== ELF_MAGIC) throw new NotElfError('not an ELF file (no \\x7fELF magic)');
  const L = LAYOUT[buf[4] === ELFCLASS64 ? 64 : 32];
  const le = buf[5] === ELFDATA2LSB;
  const read = (at: number, [off, width]: readonly [number, number]): number => {
    const p = at + off;
    if (p + width > buf.length) throw new NotElfError(`truncated ELF: field at ${p} past the end (${buf.length} bytes)`);
    if (width === 2) return le ? buf.readUInt16LE(p) : buf.readUInt16BE(p);
    if (width === 4) return le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
    return Number(le ? buf.readBigUInt64LE(p) : buf.readBigUInt64BE(p));
  };
  const shoff = read(0, L.shoff);
  const entsize = read(0, L.shentsize);
  const count = read(0, L.shnum);
  const headers = Array.from({ length: count }, (_, i) => {
    const at = shoff + i * entsize;
    return { nameAt: read(at, L.name), offset: read(at, L.offset), size: read(at, L.size) };
  });
  const strtab = headers[read(0, L.shstrndx)];
  if (!strtab) throw new NotElfError('no section-name table (e_shstrndx out of range)');
  return headers.map((h) => {
    const start = strtab.offset + h.nameAt;
    const end = buf.indexOf(0, start);
    if (start >= buf.length || end < 0) throw new NotElfError(`section name at ${start} is outside the file`);
    return { name: buf.toString('latin1', start, end), offset: h.offset, size: h.size };
  });
}

/** The `key=value` strings of a kernel module's .modinfo section (what modinfo(8) prints), in order. */
export function modinfo(buf: Buffer): { key: string; value: string }[] {
  const s = elfSections(buf).find((x) => x.name === '.modinfo');
  if (!s) return [];
  if (s.offset + s.size > buf.length) throw new NotElfError(`.modinfo (${s.size} bytes at ${s.offset}) runs past the end of the file`);
  return buf
    .toString('utf8', s.offset, s.offset + s.size)
    .split('\0')
    .filter((x) => x.includes('='))
    .map((x) => ({ key: x.slice(0, x.indexOf('=')), value: x.slice(x.indexOf('=') + 1) }));
}

/** The firmware files a module names (`modinfo -F firmware`). */
export function modinfoFirmware(buf: Buffer): string[] {
  return modinfo(buf).filter((e) => e.key === 'firmware').map((e) => e.value);
}
