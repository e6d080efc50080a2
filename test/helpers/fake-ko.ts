// A tiny ELF relocatable that looks like a kernel module to anything reading its
// .modinfo section (modinfo(8), builders/elf.ts): an ELF header, the .modinfo strings,
// the section-name table and three section headers (null, .modinfo, .shstrtab).

/** `entries` are the .modinfo strings, e.g. `firmware=e100/d101m_ucode.bin`. */
export function fakeKo(entries: string[], opts: { class32?: boolean; bigEndian?: boolean } = {}): Buffer {
  const is64 = !opts.class32;
  const le = !opts.bigEndian;
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const modinfo = Buffer.from(entries.map((e) => `${e}\0`).join(''));
  const shstrtab = Buffer.from('\0.modinfo\0.shstrtab\0');
  const modinfoAt = ehsize;
  const shstrtabAt = modinfoAt + modinfo.length;
  const shoff = shstrtabAt + shstrtab.length;
  const buf = Buffer.alloc(shoff + 3 * shentsize);
  const u16 = (v: number, at: number) => (le ? buf.writeUInt16LE(v, at) : buf.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (le ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at));
  const word = (v: number, at: number) => (is64 ? (le ? buf.writeBigUInt64LE(BigInt(v), at) : buf.writeBigUInt64BE(BigInt(v), at)) : u32(v, at));
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = is64 ? 2 : 1; // EI_CLASS
  buf[5] = le ? 1 : 2; // EI_DATA
  buf[6] = 1; // EI_VERSION
  u16(1, 16); // e_type ET_REL
  u16(is64 ? 62 : 3, 18); // e_machine x86-64 / i386
  u32(1, 20); // e_version
  word(shoff, is64 ? 0x28 : 0x20);
  u16(ehsize, is64 ? 0x34 : 0x28);
  u16(shentsize, is64 ? 0x3a : 0x2e);
  u16(3, is64 ? 0x3c : 0x30); // e_shnum
  u16(2, is64 ? 0x3e : 0x32); // e_shstrndx
  modinfo.copy(buf, modinfoAt);
  shstrtab.copy(buf, shstrtabAt);
  const section = (i: number, nameAt: number, type: number, offset: number, size: number) => {
    const at = shoff + i * shentsize;
    u32(nameAt, at);
    u32(type, at + 4);
    word(offset, at + (is64 ? 24 : 16));
    word(size, at + (is64 ? 32 : 20));
  };
  section(1, 1, 1, modinfoAt, modinfo.length); // SHT_PROGBITS
  section(2, 10, 3, shstrtabAt, shstrtab.length); // SHT_STRTAB
  return buf;
}
