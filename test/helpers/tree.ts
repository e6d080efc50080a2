// A folder's whole state as lines (type, mode, owner, mtime, content), to assert
// that something did not change it.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function snapshot(dir: string, o: { mtimes?: boolean } = {}): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort().map((rel) => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    const data = st.isFile() ? readFileSync(p).toString('base64') : st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : '';
    return `${rel} ${st.mode.toString(8)} ${st.uid}:${st.gid}${o.mtimes === false ? '' : ` ${st.mtimeMs}`} ${data}`;
  });
}

/** Mount points below dir, from /proc/self/mounts. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}
