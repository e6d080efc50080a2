// Names and addresses derived from a VC spec, the same on every host and after
// every restart, so nothing of them needs storing apart from the spec:
// - VMs are numbered from 1; VM i is the domain and hostname `<vc>-<i>`.
// - On the VC network (CIDR), the first usable address is kept for the host side
//   (the NAT gateway with --gateway, unused otherwise, so adding a gateway later
//   renumbers nothing); VM i has the network address + 1 + i: .2, .3, …
// - MACs are 52:54 (locally administered, as QEMU's own) and 4 bytes of
//   sha256("<vc>/<i>"); two VMs of one VC never share one (a clash is re-hashed).
//   VMs of different VCs sit on different segments, where a MAC may repeat.
// - The libvirt network and its bridge are `vc-<vc>`; part 2's VXLAN device is
//   `vx-<vc>`: at most 15 characters, the same name on every host.
import { createHash } from 'node:crypto';
import { formatIp4, parseCidr } from '../cluster/addr.js';
import type { VcSpec } from './spec.js';

export const FIRST_INDEX = 1;
export const BRIDGE_PREFIX = 'vc-';
export const VXLAN_PREFIX = 'vx-';
/** Linux interface names: IFNAMSIZ (16) less the terminating NUL. */
export const IFNAME_MAX = 15;
export const MAC_PREFIX = '52:54';

export interface VcNetworkPlan {
  /** The libvirt network's name, the same on every host. */
  name: string;
  bridge: string;
  /** The VXLAN device bridged in on each host (part 2). */
  vxlan: string;
  /** Canonical CIDR, e.g. 10.213.0.0/24. */
  cidr: string;
  prefix: number;
  netmask: string;
  /** The host side's address (first usable); the VMs' route out only when `gateway`. */
  gatewayAddress: string;
  gateway: boolean;
}

export interface VmIdentity {
  index: number;
  /** libvirt domain name; also the hostname. */
  domain: string;
  hostname: string;
  ip: string;
  mac: string;
}

export function vcNetwork(spec: Pick<VcSpec, 'name' | 'network' | 'gateway'>): VcNetworkPlan {
  const c = parseCidr(spec.network);
  if (!c) throw new Error(`VC ${spec.name}: network '${spec.network}' is not a CIDR`);
  const plan = {
    name: BRIDGE_PREFIX + spec.name,
    bridge: BRIDGE_PREFIX + spec.name,
    vxlan: VXLAN_PREFIX + spec.name,
    cidr: `${formatIp4(c.network)}/${c.prefix}`,
    prefix: c.prefix,
    netmask: formatIp4(c.mask),
    gatewayAddress: formatIp4(c.network + 1),
    gateway: spec.gateway,
  };
  for (const dev of [plan.bridge, plan.vxlan]) {
    if (dev.length > IFNAME_MAX) throw new Error(`VC ${spec.name}: interface name ${dev} is longer than ${IFNAME_MAX} characters`);
  }
  return plan;
}

export function vmHostname(vc: string, index: number): string {
  return `${vc}-${index}`;
}

/** VM `index`'s address: the network address + 1 + index (the first usable one is the gateway's). */
export function vmAddress(spec: Pick<VcSpec, 'name' | 'network'>, index: number): string {
  const c = parseCidr(spec.network);
  if (!c) throw new Error(`VC ${spec.name}: network '${spec.network}' is not a CIDR`);
  const ip = c.network + 1 + index;
  if (index < FIRST_INDEX || ip >= c.broadcast) throw new Error(`VC ${spec.name}: VM ${index} has no address in ${spec.network}`);
  return formatIp4(ip);
}

function hashedMac(vc: string, index: number, attempt: number): string {
  const input = attempt === 0 ? `${vc}/${index}` : `${vc}/${index}/${attempt}`;
  const bytes = createHash('sha256').update(input).digest().subarray(0, 4);
  return `${MAC_PREFIX}:${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** Every VM's identity, in index order. */
export function vmIdentities(spec: Pick<VcSpec, 'name' | 'network' | 'nodes'>): VmIdentity[] {
  const seen = new Set<string>();
  const out: VmIdentity[] = [];
  for (let index = FIRST_INDEX; index < FIRST_INDEX + spec.nodes; index++) {
    let mac = hashedMac(spec.name, index, 0);
    // A clash re-hashes the later VM only, so adding VMs never changes an earlier one's MAC.
    for (let attempt = 1; seen.has(mac); attempt++) mac = hashedMac(spec.name, index, attempt);
    seen.add(mac);
    const hostname = vmHostname(spec.name, index);
    out.push({ index, domain: hostname, hostname, ip: vmAddress(spec, index), mac });
  }
  return out;
}
