// The two values the store's kill-during-write test alternates: large enough (about
// 2 MB of JSON each) that a kill lands inside a write, and different, so a mix of the
// two or a truncation matches neither.
export function bigValues(): [string[], string[]] {
  const a = Array.from({ length: 20000 }, (_, i) => `old-${i}-${'o'.repeat(90)}`);
  const b = Array.from({ length: 40000 }, (_, i) => `new-${i}-${'n'.repeat(40)}`);
  return [a, b];
}
