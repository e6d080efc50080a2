// Test and bench payloads: a file of random bytes, written in 4 MiB pieces so that
// a large one never sits in memory whole.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

/** Write `size` random bytes and return their sha256. */
export function randomFile(path: string, size: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let left = size; left > 0; ) {
    const b = randomBytes(Math.min(left, 4 * 1024 * 1024));
    h.update(b);
    writeSync(fd, b);
    left -= b.length;
  }
  closeSync(fd);
  return h.digest('hex');
}
