// The two contents the atomic-write test alternates: different sizes and bytes, so a
// mix, a truncation or an empty file matches neither.
export function atomicContents(): [Buffer, Buffer] {
  const old = Buffer.alloc(1 << 20, 'o');
  const next = Buffer.alloc(4 << 20);
  for (let i = 0; i < next.length; i++) next[i] = (i * 31) & 0xff;
  return [old, next];
}
