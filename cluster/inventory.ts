// The cluster inventory (cluster.yaml): which MAC is which node, its address and
// image. Every replica of the boot service reads the same file, so every replica
// gives the same answers. Validated on load; problems name the line and key.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseYaml, ConfigError } from '../lib/yamlfile.js';
import { formatIp4, inCidr, normalizeMac, parseCidr, parseIp4, type Cidr } from './addr.js';

const ip4 = z.string().refine((s) => parseIp4(s) !== undefined, 'must be an IPv4 address like 10.77.0.11');
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'must be a subnet like 10.77.0.0/24');
const mac = z.string().refine((s) => normalizeMac(s) !== undefined, 'must be a MAC address like 52:54:00:77:00:01');
const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'must be a host name (letters, digits, dashes)');
const role = z.enum(['linux', 'xen-dom0']);
/** How the node's firmware boots from the network; without it, the DHCP client architecture (option 93) decides. */
export const FIRMWARES = ['bios', 'uefi', 'uefi-http', 'uefi-secure'] as const;
export type Firmware = (typeof FIRMWARES)[number];
const firmware = z.enum(FIRMWARES);

const NetworkSchema = z.strictObject({
  subnet: cidr,
  router: ip4.optional(),
  dns: z.array(ip4).default([]),
  domain: z.string().optional(),
  /** Optional dynamic pool for MACs not in the inventory. */
  pool: z.strictObject({ start: ip4, end: ip4 }).optional(),
  /** Lease time in seconds. */
  leaseTime: z.number().int().min(60).max(7 * 86400).default(3600),
  /** DHCP relays allowed to forward for this subnet: the source address of their packets. */
  relays: z.array(ip4).default([]),
});

export const InventorySchema = z.strictObject({
  cluster: name,
  version: z.number().int().min(0).default(0),
  network: NetworkSchema,
  /** More subnets, reached through DHCP relays (chosen by giaddr). */
  subnets: z.array(NetworkSchema).default([]),
  servers: z.array(ip4).min(1),
  defaults: z
    .strictObject({
      image: z.string().min(1).optional(),
      kernelArgs: z.string().default(''),
      role: role.default('linux'),
      /** Hypervisor command line for xen-dom0 nodes. */
      xenArgs: z.string().optional(),
      firmware: firmware.optional(),
    })
    .default({ kernelArgs: '', role: 'linux' }),
  nodes: z
    .array(
      z.strictObject({
        name,
        mac,
        ip: ip4,
        role: role.optional(),
        image: z.string().min(1).optional(),
        kernelArgs: z.string().optional(),
        xenArgs: z.string().optional(),
        firmware: firmware.optional(),
      }),
    )
    .default([]),
});

export interface Network {
  subnet: Cidr;
  subnetText: string;
  router?: string;
  dns: string[];
  domain?: string;
  pool?: { start: number; end: number };
  leaseTime: number;
  /** Relays whose packets (by source address) are served for this subnet. */
  relays: string[];
}

export interface InventoryNode {
  name: string;
  mac: string;
  ip: string;
  role: 'linux' | 'xen-dom0';
  image: string;
  kernelArgs: string;
  xenArgs?: string;
  /** Set in the inventory (node or defaults); undefined: option 93 decides (pxe/dhcp/boot.ts). */
  firmware?: Firmware;
  network: Network;
}

export interface Inventory {
  cluster: string;
  version: number;
  /** sha256 of the file's text: replicas compare inventories by it. */
  hash: string;
  /** The file's text, as replicas pass it on. */
  text: string;
  networks: Network[];
  servers: string[];
  nodes: InventoryNode[];
  byMac: Map<string, InventoryNode>;
  byName: Map<string, InventoryNode>;
}

/** The network an address belongs to, if any. */
export function networkFor(inv: Pick<Inventory, 'networks'>, ip: number): Network | undefined {
  return inv.networks.find((n) => inCidr(n.subnet, ip));
}

export function parseInventory(text: string, file: string): Inventory {
  const data = parseYaml(text, file, InventorySchema);
  const problems: string[] = [];
  const lineOf = (needle: string) => {
    const i = text.split('\n').findIndex((l) => l.includes(needle));
    return i < 0 ? 1 : i + 1;
  };
  const networks: Network[] = [data.network, ...data.subnets].map((n, i) => {
    const key = i === 0 ? 'network' : `subnets[${i - 1}]`;
    const subnet = parseCidr(n.subnet)!;
    const net: Network = { subnet, subnetText: n.subnet, router: n.router, dns: n.dns, domain: n.domain, leaseTime: n.leaseTime, relays: n.relays.map((r) => formatIp4(parseIp4(r)!)) };
    const relayLine = (r: string) => {
      const i = text.split('\n').findIndex((l) => /relays/.test(l) && l.includes(r));
      return i < 0 ? lineOf(r) : i + 1;
    };
    for (const [k, r] of net.relays.entries()) {
      if (net.relays.indexOf(r) !== k) problems.push(`${file}:${relayLine(r)}: ${key}.relays[${k}]: ${r} is listed twice; list each relay once`);
      if (r === '0.0.0.0' || r === '255.255.255.255') problems.push(`${file}:${relayLine(r)}: ${key}.relays[${k}]: ${r} cannot be a relay's address; give the address its packets come from`);
    }
    if (n.pool) {
      const start = parseIp4(n.pool.start)!;
      const end = parseIp4(n.pool.end)!;
      if (start > end) problems.push(`${file}:${lineOf(n.pool.start)}: ${key}.pool: start ${n.pool.start} is after end ${n.pool.end}`);
      if (!inCidr(subnet, start) || !inCidr(subnet, end)) problems.push(`${file}:${lineOf(n.pool.start)}: ${key}.pool: ${n.pool.start}-${n.pool.end} is not inside ${n.subnet}`);
      net.pool = { start, end };
    }
    if (n.router && !inCidr(subnet, parseIp4(n.router)!)) problems.push(`${file}:${lineOf(n.router)}: ${key}.router: ${n.router} is not inside ${n.subnet}`);
    return net;
  });
  const nodes: InventoryNode[] = [];
  const seen = { mac: new Map<string, string>(), ip: new Map<string, string>(), name: new Map<string, string>() };
  data.nodes.forEach((n, i) => {
    const where = `${file}:${lineOf(`name: ${n.name}`)}: nodes[${i}]`;
    const m = normalizeMac(n.mac)!;
    const ipn = parseIp4(n.ip)!;
    const net = networks.find((x) => inCidr(x.subnet, ipn));
    if (!net) problems.push(`${where}.ip: ${n.ip} is in no subnet of the inventory (${networks.map((x) => x.subnetText).join(', ')})`);
    else {
      if (ipn === net.subnet.network || ipn === net.subnet.broadcast) problems.push(`${where}.ip: ${n.ip} is the network or broadcast address of ${net.subnetText}`);
      if (net.pool && ipn >= net.pool.start && ipn <= net.pool.end) problems.push(`${where}.ip: ${n.ip} is inside the dynamic pool; reserve addresses outside it`);
    }
    for (const [k, v] of [['mac', m], ['ip', formatIp4(ipn)], ['name', n.name.toLowerCase()]] as const) {
      const prev = seen[k].get(v);
      if (prev) problems.push(`${where}.${k}: ${v} is already used by ${prev}`);
      else seen[k].set(v, n.name);
    }
    const image = n.image ?? data.defaults.image;
    if (!image) problems.push(`${where}.image: no image, and defaults.image is not set`);
    const role = n.role ?? data.defaults.role;
    const fw = n.firmware ?? data.defaults.firmware;
    if (fw === 'uefi-secure' && role === 'xen-dom0') {
      const from = n.firmware ? '' : ' (from defaults.firmware)';
      // The line of the firmware: that says it (the node's, else the defaults').
      const lines = text.split('\n');
      const start = n.firmware ? lineOf(`name: ${n.name}`) : lines.findIndex((l) => /^defaults:/.test(l)) + 1;
      const at = lines.findIndex((l, k) => k >= start && /^\s*firmware:\s*uefi-secure/.test(l)) + 1 || start;
      problems.push(`${file}:${at}: nodes[${i}].firmware: uefi-secure${from} cannot boot role xen-dom0: Debian's Xen is not signed, so shim and GRUB under Secure Boot refuse to load it; give this node firmware: uefi (Secure Boot off in its firmware) or role: linux`);
    }
    nodes.push({
      name: n.name,
      mac: m,
      ip: formatIp4(ipn),
      role,
      image: image ?? '',
      kernelArgs: n.kernelArgs ?? data.defaults.kernelArgs,
      xenArgs: n.xenArgs ?? data.defaults.xenArgs,
      firmware: fw,
      network: net ?? networks[0]!,
    });
  });
  if (problems.length) throw new ConfigError(`${file} has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, file, problems);
  return {
    cluster: data.cluster,
    version: data.version,
    hash: createHash('sha256').update(text).digest('hex'),
    text,
    networks,
    servers: data.servers,
    nodes,
    byMac: new Map(nodes.map((n) => [n.mac, n])),
    byName: new Map(nodes.map((n) => [n.name, n])),
  };
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the inventory ${file}: ${(err as Error).message}`, file, []);
  }
  return parseInventory(text, file);
}
