// The kernel command line of one VC node: the image's own line, then the initrd's
// parameters (overlays/initrd/init.mustache): the image, the node's name, where it
// finds its root and upper layer, its static address; last, what the VC adds (--append).
import { ROOT_DISK_SERIAL, SCRATCH_DISK_SERIAL } from '../drivers/libvirt-xml.js';

export interface CmdlineInput {
  /** The image manifest's cmdline (console, quiet, ...). */
  base: string;
  /** The image as name/version (the node-up line reports it). */
  image: string;
  hostname: string;
  scratch: 'disk' | 'ram';
  ip: string;
  /** The VC network's prefix length. */
  prefix: number;
  /** The host-side address the VM routes through; undefined for an isolated VC (no default route). */
  gateway?: string;
  /** Extra arguments for every node of the VC (`vc create --append`). */
  append?: string;
}

export function vmCmdline(c: CmdlineInput): string {
  const scratch = c.scratch === 'ram' ? 'ram' : `serial:${SCRATCH_DISK_SERIAL}`;
  const ip = `${c.ip}/${c.prefix}${c.gateway ? `,${c.gateway}` : ''}`;
  return [
    c.base.trim(),
    `diskless.image=${c.image}`,
    `diskless.name=${c.hostname}`,
    `diskless.rootdev=serial:${ROOT_DISK_SERIAL}`,
    `diskless.scratch=${scratch}`,
    `diskless.ip=${ip}`,
    c.append?.trim(),
  ]
    .filter(Boolean)
    .join(' ');
}
