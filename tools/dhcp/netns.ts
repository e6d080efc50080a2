// DHCP servers inside a namespace, for interop tests and bench/dhcp.ts: ours (serve.ts)
// or dnsmasq, each started as its own process and followed until it listens.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../../host/netns.js';
import { lines, waitFor } from '../../host/output.js';
import { projectRoot } from '../../lib/paths.js';

/** `relays`: the addresses relayed requests may come from (the inventory's relays: list). */
export function inventoryYaml(subnet: string, router: string, server: string, nodes: Array<{ name: string; mac: string; ip: string }>, pool?: [string, string], relays?: string[]): string {
  return `cluster: t
network:
  subnet: ${subnet}
  router: ${router}
  dns: [${router}]
  domain: cluster.test${pool ? `\n  pool: { start: ${pool[0]}, end: ${pool[1]} }` : ''}${relays?.length ? `\n  relays: [${relays.join(', ')}]` : ''}
servers: [${server}]
defaults: { image: debian }
nodes:
${nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n')}
`;
}

/** Start our server in `ns`; resolves once it listens. */
export async function startOurServer(ns: Netns, dir: string, cfg: { inventoryText: string; serverIp: string; httpPort: number; proxyDhcp?: boolean; quiet?: boolean; limits?: false }): Promise<{ child: ChildProcess; events: string[]; leaseFile: string }> {
  const invFile = join(dir, `inv-${ns.name}.yaml`);
  writeFileSync(invFile, cfg.inventoryText);
  const leaseFile = join(dir, `leases-${ns.name}.json`);
  const arg = JSON.stringify({ inventory: invFile, serverIp: cfg.serverIp, httpPort: cfg.httpPort, leaseFile, proxyDhcp: cfg.proxyDhcp, quiet: cfg.quiet, limits: cfg.limits });
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'tools/dhcp/serve.ts'), arg], { cwd: projectRoot() });
  const events = lines(child);
  await waitFor(child, /LISTENING/, 30_000, 'our DHCP server');
  return { child, events, leaseFile };
}

/** dnsmasq's command line as DHCP only (no DNS), bound to `iface`, no ping, serving reservations. */
export function dnsmasqArgv(dir: string, tag: string, o: { iface: string; range: string; hosts: string[]; boot?: string }): string[] {
  return [
    'dnsmasq',
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${o.iface}`,
    '--bind-interfaces',
    `--dhcp-range=${o.range}`,
    ...o.hosts.map((h) => `--dhcp-host=${h}`),
    ...(o.boot ? [`--dhcp-boot=${o.boot}`] : []),
    '--no-ping',
    `--dhcp-leasefile=${join(dir, `dnsmasq-${tag}.leases`)}`,
    `--pid-file=${join(dir, `dnsmasq-${tag}.pid`)}`,
    '--user=root',
    '--log-dhcp',
  ];
}

/** dnsmasq (dnsmasqArgv) in `ns`; resolves once it serves. */
export async function startDnsmasq(ns: Netns, dir: string, o: { iface: string; range: string; hosts: string[]; boot?: string }): Promise<ChildProcess> {
  const child = ns.spawn(dnsmasqArgv(dir, ns.name, o));
  await waitFor(child, /DHCP, IP range/, 15_000, 'dnsmasq');
  return child;
}
