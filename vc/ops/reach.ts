// libvirt runs QEMU as an unprivileged user (libvirt-qemu on Debian): the kernel,
// initrd, root image and the VM folders must be reachable by "others". A folder made
// with mkdtemp (0700) on the way is the usual cause; say so before anything is made.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

const OTHER_SEARCH = 0o001;
const OTHER_READ = 0o004;

export async function checkReachable(paths: string[]): Promise<void> {
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (st?.isFile() && !(st.mode & OTHER_READ)) throw new Error(`${p} is not readable by QEMU's user (mode ${(st.mode & 0o777).toString(8)}): chmod o+r ${p}`);
    for (let d = st?.isDirectory() ? p : dirname(p); ; d = dirname(d)) {
      const ds = await stat(d).catch(() => undefined);
      if (ds && !(ds.mode & OTHER_SEARCH)) {
        throw new Error(`${d} is not searchable by QEMU's user (mode ${(ds.mode & 0o777).toString(8)}), so it cannot reach ${p}: chmod o+x ${d}`);
      }
      if (d === dirname(d)) break;
    }
  }
}
