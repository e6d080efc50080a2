// Facts about kernel files: is it a bzImage, which version does it carry.

/** x86 boot protocol: 0xAA55 at 0x1FE and "HdrS" at 0x202 (Documentation/arch/x86/boot.rst). */
export function isBzImage(buf: Buffer): boolean {
  return buf.length > 0x210 && buf.readUInt16LE(0x1fe) === 0xaa55 && buf.toString('ascii', 0x202, 0x206) === 'HdrS';
}

/** Compare kernel version strings like 6.1.0-50-amd64 numerically, part by part. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}
