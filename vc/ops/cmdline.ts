// The kernel command line of one VC node: the image's own line, then where the
// initrd finds its root and upper layer, then the node's static address and name.
// The address and hostname parameter names follow the initrd (branch vc-initrd);
// they live here only, so a rename there is a change here alone.
import { ROOT_DISK_SERIAL, SCRATCH_DISK_SERIAL } from '../drivers/libvirt-xml.js';

export interface CmdlineInput {
  /** The image manifest's cmdline (console, quiet, ...). */
  base: string;
  scratch: 'disk' | 'ram';
  ip: string;
  netmask: string;
  /** The network's prefix length and the image as name/version: not on the line yet, here so the
   *  initrd's own parameters (vc-initrd: diskless.ip=ADDR/PREFIX[,GW], diskless.image=) need no other change. */
  prefix: number;
  image: string;
  /** The host-side address the VM routes through; undefined for an isolated VC (no default route). */
  gateway?: string;
  hostname: string;
  /** The VM's network device as the kernel names it before udev (ip= autoconfiguration). */
  device?: string;
}

export function vmCmdline(c: CmdlineInput): string {
  const scratch = c.scratch === 'ram' ? 'ram' : `serial:${SCRATCH_DISK_SERIAL}`;
  // Kernel ip= (Documentation/admin-guide/nfs/nfsroot.rst): client:server:gw:netmask:hostname:device:autoconf
  const ip = `ip=${c.ip}::${c.gateway ?? ''}:${c.netmask}:${c.hostname}:${c.device ?? 'eth0'}:none`;
  return [c.base.trim(), `diskless.rootdev=serial:${ROOT_DISK_SERIAL}`, `diskless.scratch=${scratch}`, ip, `diskless.hostname=${c.hostname}`]
    .filter(Boolean)
    .join(' ');
}
