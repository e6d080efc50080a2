// Sizes as people write them on a command line (512M, 2G, 1.5GiB) and back.
// Units are powers of 1024, as libvirt and qemu-img read them.

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
export const MiB = UNITS.M!;
export const GiB = UNITS.G!;

export const SIZE_HINT = 'a size like 512M or 2G (units K, M, G, T are powers of 1024)';

/** Bytes in `text` (`512M`, `2G`, `1.5GiB`, `64 MB`); undefined if it has no unit or is malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** The largest unit that keeps at most one decimal: 512 MiB, 1.5 GiB, 4 GiB. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of Object.entries(UNITS).reverse()) {
    if (bytes >= n) {
      const v = Math.round((bytes / n) * 10) / 10;
      return `${v} ${unit}iB`;
    }
  }
  return `${bytes} B`;
}
