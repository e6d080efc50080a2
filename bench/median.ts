// The median of a bench's rounds (the mean of the middle two for an even count); null for none.
export function median(xs: number[]): number | null {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
