// The live medium: an ISO 9660 image, bootable from CD and, written raw to a USB stick,
// from USB, on BIOS and UEFI (grub-mkrescue makes the El Torito and EFI system
// partition parts). Layout:
//   /boot/grub/grub.cfg                 one entry per replica address of the inventory
//   /diskless/images/<name>/<version>/  the image (vmlinuz, initrd.img, root, service layer, manifest)
//   /diskless/images/<name>/current     -> <version>
//   /diskless/cluster.yaml              the inventory it serves
//   /diskless/SHA256SUMS                checked by the initrd after copying into RAM
import { existsSync } from 'node:fs';
import { sha256File } from '../../store/hash.js';
import { readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { run } from '../../lib/run.js';
import { formatIp4, parseIp4, inCidr } from '../../cluster/addr.js';
import type { Inventory } from '../../cluster/inventory.js';
import type { Logger } from '../../lib/log.js';

export const LIVE_VOLUME_ID = 'DISKLESS_LIVE';

/** The host pieces grub-mkrescue needs for a BIOS + UEFI medium, as "install X" problems. */
export function liveHostProblems(): string[] {
  const need = [
    { file: '/usr/lib/grub/i386-pc/cdboot.img', pkg: 'grub-pc-bin', for: 'BIOS boot' },
    { file: '/usr/lib/grub/x86_64-efi/moddep.lst', pkg: 'grub-efi-amd64-bin', for: 'UEFI boot' },
  ];
  return need.filter((n) => !existsSync(n.file)).map((n) => `${n.file} is missing (${n.for}): apt-get install ${n.pkg}`);
}

export interface LiveEntry {
  address: string;
  prefix: number;
}

/** One boot-menu entry per replica address, each with its subnet's prefix length. */
export function liveEntries(inv: Inventory, file: string): LiveEntry[] {
  return inv.servers.map((address) => {
    const ip = parseIp4(address)!;
    const net = inv.networks.find((n) => inCidr(n.subnet, ip));
    if (!net) throw new Error(`${file}: servers: ${address} is in no network of the inventory, so the live medium cannot give it a prefix; add its subnet under network: or subnets:`);
    return { address: formatIp4(ip), prefix: net.subnet.prefix };
  });
}

/** Write SHA256SUMS (busybox `sha256sum -c` format) for every file below `dir`. */
export async function writeSums(dir: string): Promise<number> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile() && !(d === dir && e.name === 'SHA256SUMS')) files.push(join(d, e.name));
    }
  };
  await walk(dir);
  files.sort();
  const lines: string[] = [];
  for (const f of files) {
    lines.push(`${await sha256File(f)}  ${relative(dir, f)}`);
  }
  await writeFile(join(dir, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  return files.length;
}

export async function makeIso(isoDir: string, out: string, o: { log?: Logger; signal?: AbortSignal }): Promise<void> {
  // Arguments after `--` go to xorriso: the volume label the initrd does not need but an
  // administrator sees in lsblk.
  await run(['grub-mkrescue', '--compress=xz', '-o', out, isoDir, '--', '-volid', LIVE_VOLUME_ID], o);
}
